using System.Globalization;
using System.Text;

namespace Slipway.Bench;

/// <summary>One measured figure beside its baseline and target.</summary>
public sealed record Row(
    string Scenario,
    string Engine,
    string Measure,
    string Value,
    string Baseline,
    string Ratio,
    string Target,
    bool? Met,
    string Notes = "");

/// <summary>Collects rows and renders them as a markdown table.</summary>
public sealed class Results
{
    private readonly List<Row> _rows = [];
    private readonly List<string> _notes = [];

    public IReadOnlyList<Row> Rows => _rows;

    public void Add(Row row)
    {
        _rows.Add(row);
        Console.WriteLine($"  -> {row.Scenario} [{row.Engine}] {row.Measure}: {row.Value} (baseline {row.Baseline}, ratio {row.Ratio}, target {row.Target}: {Verdict(row.Met)})");
    }

    public void Note(string text)
    {
        _notes.Add(text);
        Console.WriteLine($"  note: {text}");
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Scenario | Engine | Measure | Slipway | Baseline | Slipway / baseline | Target | Met |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---|---|");
        foreach (var r in _rows)
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Scenario} | {r.Engine} | {r.Measure} | {r.Value} | {r.Baseline} | {r.Ratio} | {r.Target} | {Verdict(r.Met)} |");
        var notes = _rows.Where(r => r.Notes.Length > 0).Select(r => $"{r.Scenario} [{r.Engine}] {r.Measure}: {r.Notes}").Concat(_notes).ToList();
        if (notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var n in notes)
                sb.AppendLine(CultureInfo.InvariantCulture, $"- {n}");
        }
        return sb.ToString();
    }

    private static string Verdict(bool? met) => met switch
    {
        true => "met",
        false => "**not met**",
        null => "-",
    };
}

/// <summary>Latency samples in Stopwatch ticks, summarised as percentiles.</summary>
public sealed class Latencies(int capacity)
{
    private readonly List<long> _ticks = new(capacity);

    public int Count => _ticks.Count;

    public void Add(long ticks) => _ticks.Add(ticks);

    /// <summary>Nearest-rank percentile in milliseconds.</summary>
    public double Percentile(double p)
    {
        if (_ticks.Count == 0)
            return double.NaN;
        var sorted = _ticks.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)] * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
    }

    public double P50 => Percentile(50);
    public double P99 => Percentile(99);
    public double Max => Percentile(100);
}

public static class Fmt
{
    public static string Ms(double ms) => ms.ToString(ms < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture) + " ms";

    public static string Rate(double perSecond) => perSecond.ToString("N0", CultureInfo.InvariantCulture) + " ev/s";

    public static string Ratio(double r) => r.ToString("0.00", CultureInfo.InvariantCulture) + "×";

    public static string Pct(double r) => (r * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    public static string Mb(double bytes) => (bytes / (1024.0 * 1024.0)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    public static string N(double x) => x.ToString("N0", CultureInfo.InvariantCulture);
}
