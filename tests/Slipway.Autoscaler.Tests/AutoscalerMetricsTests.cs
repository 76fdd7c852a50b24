using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Autoscaler.Tests.Infrastructure;

namespace Slipway.Autoscaler.Tests;

/// <summary>The server's /metrics after an autoscaler has launched, failed a launch and lost an instance (Kubernetes stand-in).</summary>
public sealed class AutoscalerMetricsTests : IAsyncLifetime
{
    private readonly KubernetesScene _scene = new("gpu", "idle \"queue\"");

    public Task InitializeAsync() => _scene.InitializeAsync();

    public Task DisposeAsync() => _scene.DisposeAsync();

    private async Task<Dictionary<string, double>> MetricsAsync()
    {
        using var http = new HttpClient { BaseAddress = _scene.Server.Server.ApiUrl };
        var options = _scene.Server.Options();
        using var login = new HttpRequestMessage(HttpMethod.Post, "auth.login");
        login.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.AccessKey}:{options.SecretKey}")));
        var token = JsonNode.Parse(await (await http.SendAsync(login)).Content.ReadAsStringAsync())!["data"]!["token"]!.GetValue<string>();
        using var scrape = new HttpRequestMessage(HttpMethod.Get, "metrics");
        scrape.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var text = await (await http.SendAsync(scrape)).EnsureSuccessStatusCode().Content.ReadAsStringAsync();
        return text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => (Name: l[..l.LastIndexOf(' ')], Value: double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)))
            .ToDictionary(m => m.Name, m => m.Value);
    }

    [Fact]
    public async Task Metrics_show_desired_and_actual_instances_pending_age_launch_failures_interruptions_and_spend_rate()
    {
        var config = new AutoscalerConfig
        {
            Name = "k8s", MaxInstances = 10, MaxLaunchesInFlight = 10,
            Kubernetes = new KubernetesProviderConfig
            {
                ApiServer = _scene.Cluster.Url, Namespace = "ml", ServerUrl = "http://slipway.ml.svc:8008",
                Templates = { ["a100"] = new KubernetesTemplate { Image = "slipway:1", Gpus = 1 } },
            },
        };
        config.Queues["gpu"] = ["a100"];
        config.Resources["a100"] = new ResourceConfig
        {
            Provider = "kubernetes", MaxInstances = 5, Markets = [new MarketConfig { Market = Market.OnDemand, PriceUsdPerHour = 1.25m }],
        };
        using var provider = new KubernetesProvider(config.Kubernetes);
        var loop = new AutoscalerLoop(config, new ServerConnection(_scene.Client), [provider], _scene.Clock);
        await loop.StartAsync(default);
        for (var i = 0; i < 3; i++)
        {
            var id = (await _scene.Client.CallAsync("tasks.create", new JsonObject { ["name"] = $"t{i}", ["type"] = "training" }))["id"]!.GetValue<string>();
            await _scene.Client.Tasks.EnqueueAsync(id, "gpu");
        }

        // Three launches, the first refused by the API server.
        _scene.Cluster.Fail("POST", "jobs", 500, times: 1);
        var first = await loop.RunOnceAsync(default);
        Assert.Single(first, d => d.Action == DecisionAction.LaunchFailed);
        var launched = first.Where(d => d.Action == DecisionAction.Launch).Skip(1).Select(d => d.LaunchId!).ToList();
        Assert.Equal(2, _scene.Cluster.Jobs().Count);

        // One pod's agent registers; the other pod fails (an interruption).
        _scene.Cluster.PodRunning(launched[0]);
        await _scene.Client.CallAsync("workers.register", new JsonObject { ["worker"] = $"k8s:a100:{launched[0]}:cpu:0" });
        _scene.Cluster.SetPodStatus(launched[1], new JsonObject { ["phase"] = "Failed", ["reason"] = "Evicted", ["message"] = "The node was low on resource: memory." });
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        var second = await loop.RunOnceAsync(default);
        Assert.Single(second, d => d.Action == DecisionAction.Lost);

        var metrics = await MetricsAsync();
        var live = loop.State.Live.Count(r => r.Resource == "a100" && r.Status != InstanceStatus.Draining);
        Assert.Equal(live, metrics["slipway_autoscaler_desired_instances{scaler=\"k8s\",resource=\"a100\"}"]);
        Assert.Equal(1, metrics["slipway_autoscaler_actual_instances{scaler=\"k8s\",resource=\"a100\"}"]);
        Assert.Equal(live - 1, metrics["slipway_autoscaler_booting_instances{scaler=\"k8s\",resource=\"a100\"}"]);
        Assert.Equal(1, metrics["slipway_autoscaler_launch_failures_total{scaler=\"k8s\",resource=\"a100\"}"]);
        Assert.Equal(1, metrics["slipway_autoscaler_interruptions_total{scaler=\"k8s\",resource=\"a100\"}"]);
        Assert.Equal(1.25 * live, metrics["slipway_autoscaler_usd_per_hour{scaler=\"k8s\"}"], 6);
        Assert.True(metrics["slipway_autoscaler_month_spend_usd{scaler=\"k8s\"}"] >= 0);
        Assert.Equal(3, metrics["slipway_queue_pending_tasks{queue=\"gpu\"}"]);
        Assert.InRange(metrics["slipway_queue_oldest_pending_seconds{queue=\"gpu\"}"], 0.0001, 600);
        Assert.Equal(0, metrics["slipway_queue_pending_tasks{queue=\"idle \\\"queue\\\"\"}"]);
        Assert.Equal(0, metrics["slipway_queue_oldest_pending_seconds{queue=\"idle \\\"queue\\\"\"}"]);
    }
}
