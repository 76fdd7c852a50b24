using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Events;

/// <summary>
/// Keeps a task's <c>last_metrics</c> (per metric and variant: last, min, max, first, mean, count, with
/// iterations) and <c>last_iteration</c> up to date as scalars arrive. Monitoring metrics do not move the iteration.
/// </summary>
public static class LastMetrics
{
    public sealed class Summary
    {
        public required string Metric { get; init; }
        public required string Variant { get; init; }
        public double Last { get; set; }
        public long LastIter { get; set; } = long.MinValue;
        public double Min { get; set; } = double.PositiveInfinity;
        public long MinIter { get; set; }
        public double Max { get; set; } = double.NegativeInfinity;
        public long MaxIter { get; set; }
        public double First { get; set; }
        public long FirstIter { get; set; } = long.MaxValue;
        public double Sum { get; set; }
        public long Count { get; set; }
    }

    public static Dictionary<(string Metric, string Variant), Summary> Summarize(IEnumerable<ScalarEvent> scalars)
    {
        var summaries = new Dictionary<(string, string), Summary>();
        foreach (var s in scalars)
        {
            if (s.Point.Value is not { } v || !double.IsFinite(v))
                continue;
            var key = (s.Metric, s.Variant);
            if (!summaries.TryGetValue(key, out var sum))
                summaries[key] = sum = new Summary { Metric = s.Metric, Variant = s.Variant };
            var it = s.Point.Iter;
            if (it >= sum.LastIter) { sum.Last = v; sum.LastIter = it; }
            if (v < sum.Min) { sum.Min = v; sum.MinIter = it; }
            if (v > sum.Max) { sum.Max = v; sum.MaxIter = it; }
            if (it < sum.FirstIter) { sum.First = v; sum.FirstIter = it; }
            sum.Sum += v;
            sum.Count++;
        }
        return summaries;
    }

    public static bool IsMonitoring(string metric) => metric.StartsWith(":monitor:", StringComparison.Ordinal);

    /// <summary>Merges a batch's summaries into a task document.</summary>
    public static void Merge(JsonObject task, IEnumerable<Summary> summaries, string now)
    {
        if (task["last_metrics"] is not JsonObject metrics)
            task["last_metrics"] = metrics = [];
        var lastIteration = Json.GetLong(task["last_iteration"]) ?? 0;
        foreach (var s in summaries)
        {
            var metricKey = Hash(s.Metric);
            if (metrics[metricKey] is not JsonObject variants)
                metrics[metricKey] = variants = [];
            var variantKey = Hash(s.Variant);
            if (variants[variantKey] is JsonObject old)
            {
                var count = Json.GetLong(old["count"]) ?? 0;
                var mean = Json.GetDouble(old["mean_value"]) ?? 0;
                var oldLastIter = Json.GetLong(old["value_iteration"]) ?? long.MinValue;
                if (s.LastIter >= oldLastIter)
                {
                    old["value"] = s.Last;
                    old["value_iteration"] = s.LastIter;
                }
                if (s.Min < (Json.GetDouble(old["min_value"]) ?? double.PositiveInfinity))
                {
                    old["min_value"] = s.Min;
                    old["min_value_iteration"] = s.MinIter;
                }
                if (s.Max > (Json.GetDouble(old["max_value"]) ?? double.NegativeInfinity))
                {
                    old["max_value"] = s.Max;
                    old["max_value_iteration"] = s.MaxIter;
                }
                if (s.FirstIter < (Json.GetLong(old["first_value_iteration"]) ?? long.MaxValue))
                {
                    old["first_value"] = s.First;
                    old["first_value_iteration"] = s.FirstIter;
                }
                old["count"] = count + s.Count;
                old["mean_value"] = (mean * count + s.Sum) / (count + s.Count);
            }
            else
            {
                variants[variantKey] = new JsonObject
                {
                    ["metric"] = s.Metric,
                    ["variant"] = s.Variant,
                    ["value"] = s.Last,
                    ["value_iteration"] = s.LastIter,
                    ["min_value"] = s.Min,
                    ["min_value_iteration"] = s.MinIter,
                    ["max_value"] = s.Max,
                    ["max_value_iteration"] = s.MaxIter,
                    ["first_value"] = s.First,
                    ["first_value_iteration"] = s.FirstIter,
                    ["mean_value"] = s.Sum / s.Count,
                    ["count"] = s.Count,
                    ["x_axis_label"] = "iter",
                };
            }
            if (!IsMonitoring(s.Metric) && s.LastIter > lastIteration)
                lastIteration = s.LastIter;
        }
        task["last_iteration"] = lastIteration;
        task["last_update"] = now;
    }

#pragma warning disable CA5351 // MD5 names things as ClearML does (ids and keys the clients compute too); it guards nothing.
    public static string Hash(string text) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5351
}
