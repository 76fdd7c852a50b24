using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Server.Domain.Workers;

/// <summary>
/// Utilisation over time from workers' status reports, in the reference server's shapes: per worker and
/// metric, values aggregated (avg/min/max) over intervals starting at from_date; intervals without reports
/// are left out. Array metrics (cpu_usage per core, gpu_* per GPU) are averaged per report, or kept apart
/// as variants "0", "1"… when split.
/// </summary>
public static class WorkerStatistics
{
    public sealed record Report(string Worker, long Time, bool Active, JsonObject? Stats);

    public sealed record Item(string Key, string Category);

    public static long Bucket(long time, long from, long interval) => from + (time - from) / interval * interval;

    public static JsonArray Stats(IReadOnlyList<Report> reports, IReadOnlyList<string> workers, long from, long interval, IReadOnlyList<Item> items, bool split)
    {
        var result = new JsonArray();
        foreach (var worker in workers)
        {
            var metrics = new JsonArray();
            foreach (var key in items.Select(i => i.Key).Distinct())
            {
                // (variant, bucket) -> one value per report
                var series = new SortedDictionary<(string Variant, long Bucket), List<double>>();
                foreach (var report in reports.Where(r => r.Worker == worker))
                {
                    var values = Values(report.Stats?[key]);
                    if (values.Count == 0)
                        continue;
                    var bucket = Bucket(report.Time, from, interval);
                    if (split)
                    {
                        for (var i = 0; i < values.Count; i++)
                            Add(series, (i.ToString(System.Globalization.CultureInfo.InvariantCulture), bucket), values[i]);
                    }
                    else
                    {
                        Add(series, ("", bucket), values.Average());
                    }
                }
                foreach (var variant in series.Keys.Select(k => k.Variant).Distinct())
                {
                    var points = series.Where(p => p.Key.Variant == variant).ToList();
                    var metric = new JsonObject
                    {
                        ["metric"] = key,
                        ["dates"] = new JsonArray(points.Select(p => (JsonNode)p.Key.Bucket).ToArray()),
                        ["stats"] = new JsonArray(items.Where(i => i.Key == key).Select(i => (JsonNode)new JsonObject
                        {
                            ["aggregation"] = i.Category,
                            ["values"] = new JsonArray(points.Select(p => (JsonNode)Aggregate(p.Value, i.Category)).ToArray()),
                        }).ToArray()),
                    };
                    if (split)
                        metric["variant"] = variant;
                    metrics.Add(metric);
                }
            }
            result.Add(new JsonObject { ["worker"] = worker, ["metrics"] = metrics });
        }
        return result;
    }

    /// <summary>Per interval: how many workers reported at all, and how many of them were running a task.</summary>
    public static JsonObject Activity(IReadOnlyList<Report> reports, long from, long interval)
    {
        var buckets = reports.GroupBy(r => Bucket(r.Time, from, interval)).OrderBy(g => g.Key).ToList();
        JsonObject Series(Func<Report, bool> keep) => new()
        {
            ["dates"] = new JsonArray(buckets.Select(b => (JsonNode)b.Key).ToArray()),
            ["counts"] = new JsonArray(buckets.Select(b => (JsonNode)b.Where(keep).Select(r => r.Worker).Distinct().Count()).ToArray()),
        };
        return new JsonObject { ["total"] = Series(_ => true), ["active"] = Series(r => r.Active) };
    }

    private static void Add(SortedDictionary<(string, long), List<double>> series, (string, long) key, double value)
    {
        if (!series.TryGetValue(key, out var list))
            series[key] = list = [];
        list.Add(value);
    }

    private static double Aggregate(List<double> values, string category) => category switch
    {
        "min" => values.Min(),
        "max" => values.Max(),
        _ => values.Average(),
    };

    private static List<double> Values(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => [v.GetValue<double>()],
        JsonArray a => a.OfType<JsonValue>().Where(x => x.GetValueKind() == JsonValueKind.Number).Select(x => x.GetValue<double>()).ToList(),
        _ => [],
    };
}
