using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Serving.Tests;

/// <summary>Each host's CPU and GPU figures: shaped by the host for its reports, kept per host by the server, charted by endpoint.</summary>
public sealed class HostStatsTests : IAsyncLifetime
{
    private readonly TestServer _testServer = new();
    private SlipwayClient _admin = null!;

    public async Task InitializeAsync()
    {
        await _testServer.InitializeAsync();
        var options = _testServer.Options();
        // No retries: a refused call is the answer under test.
        options.MaxRetries = 0;
        _admin = new SlipwayClient(options);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _testServer.DisposeAsync();
    }

    [Fact]
    public void A_sample_gives_the_GPUs_mean_use_and_summed_memory_and_no_GPU_fields_without_GPUs()
    {
        var withGpus = HostStats.From(new Dictionary<string, double>
        {
            ["cpu_usage"] = 12.5, ["memory_used_gb"] = 3, ["memory_free_gb"] = 5,
            ["gpu_0_utilization"] = 20, ["gpu_1_utilization"] = 60,
            ["gpu_0_mem_used_gb"] = 1.5, ["gpu_1_mem_used_gb"] = 2.5, ["gpu_0_mem_total_gb"] = 8, ["gpu_1_mem_total_gb"] = 8,
            ["gpu_0_temperature"] = 50,
        });
        Assert.Equal(12.5, withGpus["cpu_usage"]!.GetValue<double>());
        Assert.Equal(2, withGpus["gpu_count"]!.GetValue<int>());
        Assert.Equal(40, withGpus["gpu_usage"]!.GetValue<double>());
        Assert.Equal(4, withGpus["gpu_memory_used_gb"]!.GetValue<double>());
        Assert.Equal(16, withGpus["gpu_memory_total_gb"]!.GetValue<double>());

        var cpuOnly = HostStats.From(new Dictionary<string, double> { ["cpu_usage"] = 7, ["memory_used_gb"] = 1 });
        Assert.Equal(["cpu_usage", "memory_used_gb"], cpuOnly.Select(p => p.Key));
    }

    [Fact]
    public async Task The_server_keeps_each_hosts_figures_and_charts_them_per_host_for_an_endpoint()
    {
        var model = (await _admin.CallAsync("models.create", new JsonObject { ["name"] = "m", ["uri"] = "http://127.0.0.1:1/files/m.onnx" }))["id"]!.GetValue<string>();
        var endpoint = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "charted" }))["id"]!.GetValue<string>();
        await _admin.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model });
        Task Report(string host, JsonObject machine) => _admin.CallAsync("serving.container_status_report", new JsonObject
        {
            ["container_id"] = host, ["endpoint_url"] = $"http://{host}:8090",
            ["versions"] = new JsonArray(new JsonObject { ["endpoint"] = endpoint, ["version"] = 1, ["state"] = "ready", ["requests"] = 3 }),
            ["machine_stats"] = machine,
        });
        await Report("gpu-host", new JsonObject { ["cpu_usage"] = 30.0, ["gpu_usage"] = 80.0, ["gpu_count"] = 1 });
        await Report("gpu-host", new JsonObject { ["cpu_usage"] = 50.0, ["gpu_usage"] = 90.0, ["gpu_count"] = 1, ["not_a_figure"] = 5, ["gpu_count_text"] = "one" });
        await Report("cpu-host", new JsonObject { ["cpu_usage"] = 10.0 });

        async Task<JsonNode> History(string metric) => await _admin.CallAsync("serving.get_endpoint_metrics_history", new JsonObject
        {
            ["endpoint"] = endpoint, ["metric_type"] = metric, ["interval"] = 3600,
        });
        var cpu = (await History("cpu_usage"))["hosts"]!.AsArray().ToDictionary(h => h!["container"]!.GetValue<string>(), h => h!["values"]!.AsArray().Single()!.GetValue<double>());
        Assert.Equal(new Dictionary<string, double> { ["cpu-host"] = 10, ["gpu-host"] = 40 }, cpu);
        // A host without GPUs has no GPU series (not a zero one).
        var gpu = (await History("gpu_usage"))["hosts"]!.AsArray();
        Assert.Equal("gpu-host", gpu.Single()!["container"]!.GetValue<string>());
        Assert.Equal(85, gpu.Single()!["values"]!.AsArray().Single()!.GetValue<double>());

        var instances = (await _admin.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["versions"]![0]!["instances"]!.AsArray();
        var latest = instances.Single(i => i!["container"]!.GetValue<string>() == "gpu-host")!["machine_stats"]!.AsObject();
        Assert.Equal(50, latest["cpu_usage"]!.GetValue<double>());
        Assert.Null(latest["not_a_figure"]);
    }
}
