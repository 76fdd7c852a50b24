using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Web.Shared;

/// <summary>
/// One line of a scalar chart as the browser draws it (names are camel-cased on the way): iterations, values, and the
/// points' times in ms with the origin that relative wall time counts from.
/// </summary>
public sealed record ChartLine(string Label, long[] X, double?[] Y, long[]? T, string? Color = null, long? Origin = null)
{
    /// <summary>A series of an events.*_iter_histogram answer ({x, y, timestamps}).</summary>
    public static ChartLine FromHistogram(JsonNode? series, string label, string? color = null, long? origin = null)
    {
        var x = (series?["x"] as JsonArray ?? []).Select(v => Json.GetLong(v) ?? 0).ToArray();
        var y = (series?["y"] as JsonArray ?? []).Select(v => Json.GetDouble(v)).ToArray();
        var t = series?["timestamps"] is JsonArray ts ? ts.Select(v => Json.GetLong(v) ?? 0).ToArray() : null;
        return new ChartLine(label, x, y, t, color, origin);
    }

    public static ChartLine Empty(ChartLine like) => like with { X = [], Y = [], T = like.T is null ? null : [] };

    /// <summary>
    /// The SDK reports a single value (report_single_value) as a point at the smallest iteration; charts leave it out
    /// and show it in a table. Returns the line without it, and the value if there was one.
    /// </summary>
    public (ChartLine Line, double? Single, bool HasSingle) WithoutSingleValue()
    {
        var at = Array.IndexOf(X, SingleValueIteration);
        if (at < 0)
            return (this, null, false);
        bool Keep<T>(T _, int i) => i != at;
        return (this with { X = X.Where(Keep).ToArray(), Y = Y.Where(Keep).ToArray(), T = T?.Where(Keep).ToArray() }, Y[at], true);
    }

    public const long SingleValueIteration = int.MinValue;
}

/// <summary>How scalar charts are drawn: smoothing weight (0 to 0.99), x axis and log scale.</summary>
public sealed record ChartSettings(double Smoothing = 0, string XAxis = ChartSettings.Iterations, bool Log = false)
{
    public const string Iterations = "iter";
    public const string RelativeTime = "relative";
    public const string WallTime = "wall";
}

/// <summary>Chart helpers shared by the scalars tab and the comparison.</summary>
public static class ScalarCharts
{
    /// <summary>Points per series per chart: enough for a chart's width in pixels twice over, never the raw points of a long series.</summary>
    public const int Samples = 2000;

    private static readonly string[] Palette = ["#2f6fde", "#e4572e", "#29a35a", "#9b59b6", "#f0a202", "#17becf", "#d6336c", "#7f7f7f", "#8c564b", "#bcbd22"];

    /// <summary>A distinct colour for the i-th line (the palette, then golden-angle hues).</summary>
    public static string Color(int i) => i < Palette.Length ? Palette[i] : FormattableString.Invariant($"hsl({i * 137.508 % 360:0}, 62%, 45%)");

    public static bool IsMonitoring(string metric) => metric.StartsWith(":monitor:", StringComparison.Ordinal);

    /// <summary>
    /// The unit of a machine-monitoring series, from the SDK's and agents' variant names (cpu_usage, memory_used_gb,
    /// network_rx_mbs, gpu_0_temperature, ...): series of one unit share a chart, so percent, GB and MB/s never share an axis.
    /// </summary>
    public static string MonitoringUnit(string variant) =>
        variant.EndsWith("_gb", StringComparison.Ordinal) ? "GB"
        : variant.EndsWith("_mbs", StringComparison.Ordinal) ? "MB/s"
        : variant.Contains("temperature", StringComparison.Ordinal) ? "°C"
        : variant.Contains("power", StringComparison.Ordinal) ? "W"
        : variant.EndsWith("_usage", StringComparison.Ordinal) || variant.EndsWith("_percent", StringComparison.Ordinal)
          || variant.EndsWith("_utilization", StringComparison.Ordinal) ? "%"
        : variant;

    /// <summary>Whether a chart title matches the filter text (case-insensitive; empty matches all).</summary>
    public static bool Matches(string title, string? filter) =>
        string.IsNullOrWhiteSpace(filter) || title.Contains(filter.Trim(), StringComparison.OrdinalIgnoreCase);

    /// <summary>Regular metrics by name, then monitoring ones.</summary>
    public static IEnumerable<T> Ordered<T>(IEnumerable<T> charts, Func<T, string> metric) =>
        charts.OrderBy(c => IsMonitoring(metric(c))).ThenBy(metric, StringComparer.Ordinal);
}

/// <summary>The values of the grouping control.</summary>
public static class ChartGrouping
{
    public const string Metric = "metric";
    public const string None = "none";
}
