using System.Text.Json.Nodes;
using Slipway.Client.Tracking;

namespace Slipway.Serving;

/// <summary>
/// This host's CPU, memory and, where <c>nvidia-smi</c> answers, GPU figures for its status reports (the endpoint page's
/// per-host charts): <c>cpu_usage</c> and <c>gpu_usage</c> in percent (the GPUs' mean), memory in GiB (the GPUs' sum), and
/// <c>gpu_count</c>. GPU fields are absent on a machine without one.
/// </summary>
public sealed class HostStats(MachineStats machine)
{
    public HostStats()
        : this(new MachineStats())
    {
    }

    public JsonObject Sample() => From(machine.Sample());

    /// <summary>Shapes a <see cref="MachineStats"/> sample (<c>gpu_N_utilization</c>, <c>gpu_N_mem_used_gb</c>, …) for a report.</summary>
    public static JsonObject From(IReadOnlyDictionary<string, double> sample)
    {
        var report = new JsonObject();
        foreach (var key in new[] { "cpu_usage", "memory_used_gb", "memory_free_gb" })
        {
            if (sample.TryGetValue(key, out var value) && double.IsFinite(value))
                report[key] = Math.Round(value, 3);
        }
        double[] Gpus(string suffix) => [.. sample.Where(kv => kv.Key.StartsWith("gpu_", StringComparison.Ordinal) && kv.Key.EndsWith(suffix, StringComparison.Ordinal) && double.IsFinite(kv.Value)).Select(kv => kv.Value)];
        var usage = Gpus("_utilization");
        if (usage.Length == 0)
            return report;
        report["gpu_count"] = usage.Length;
        report["gpu_usage"] = Math.Round(usage.Average(), 2);
        if (Gpus("_mem_used_gb") is { Length: > 0 } used)
            report["gpu_memory_used_gb"] = Math.Round(used.Sum(), 3);
        if (Gpus("_mem_total_gb") is { Length: > 0 } total)
            report["gpu_memory_total_gb"] = Math.Round(total.Sum(), 3);
        return report;
    }
}
