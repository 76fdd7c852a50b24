using System.Text.Json.Nodes;
using Slipway.Client.Tracking;

namespace Slipway.Agent;

/// <summary>Shapes a <see cref="MachineStats"/> sample the way <c>workers.status_report</c> takes it (the official agent's field names and units).</summary>
internal static class MachineStatsReport
{
    public static JsonObject From(IReadOnlyDictionary<string, double> sample)
    {
        var stats = new JsonObject();
        double? Get(string key) => sample.TryGetValue(key, out var v) && !double.IsNaN(v) ? v : null;
        if (Get("cpu_usage") is { } cpu)
            stats["cpu_usage"] = new JsonArray(cpu);
        if (Get("memory_used_gb") is { } used)
            stats["memory_used"] = Math.Round(used * 1024, 1);
        if (Get("memory_free_gb") is { } free)
            stats["memory_free"] = Math.Round(free * 1024, 1);
        if (Get("disk_free_percent") is { } disk)
            stats["disk_free_home"] = disk;
        if (Get("network_rx_mbs") is { } rx)
            stats["network_rx"] = rx;
        if (Get("network_tx_mbs") is { } tx)
            stats["network_tx"] = tx;
        var gpus = sample.Keys.Where(k => k.StartsWith("gpu_", StringComparison.Ordinal) && k.EndsWith("_utilization", StringComparison.Ordinal))
            .Select(k => k["gpu_".Length..^"_utilization".Length]).Order(StringComparer.Ordinal).ToList();
        if (gpus.Count > 0)
        {
            JsonArray Column(Func<string, double?> value) => new(gpus.Select(g => (JsonNode?)JsonValue.Create(value(g) ?? 0)).ToArray());
            stats["gpu_usage"] = Column(g => Get($"gpu_{g}_utilization"));
            stats["gpu_memory_used"] = Column(g => Get($"gpu_{g}_mem_used_gb") * 1024);
            stats["gpu_memory_free"] = Column(g => (Get($"gpu_{g}_mem_total_gb") - Get($"gpu_{g}_mem_used_gb")) * 1024);
            stats["gpu_temperature"] = Column(g => Get($"gpu_{g}_temperature"));
        }
        return stats;
    }
}
