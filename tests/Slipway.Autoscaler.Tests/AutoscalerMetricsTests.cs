using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Autoscaler.Tests.Infrastructure;
using Slipway.Client;

namespace Slipway.Autoscaler.Tests;

/// <summary>The server's /metrics after an autoscaler has launched, failed a launch and lost an instance (Kubernetes stand-in).</summary>
public sealed class AutoscalerMetricsTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private SlipwayClient _client = null!;
    private KubernetesStandIn _cluster = null!;
    private readonly FakeClock _clock = new(DateTimeOffset.UtcNow);

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
        _cluster = await KubernetesStandIn.StartAsync();
        await _client.Queues.CreateAsync("gpu");
        await _client.Queues.CreateAsync("idle \"queue\"");
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<Dictionary<string, double>> MetricsAsync()
    {
        using var http = new HttpClient { BaseAddress = _server.Server.ApiUrl };
        var options = _server.Options();
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
                ApiServer = _cluster.Url, Namespace = "ml", ServerUrl = "http://slipway.ml.svc:8008",
                Templates = { ["a100"] = new KubernetesTemplate { Image = "slipway:1", Gpus = 1 } },
            },
        };
        config.Queues["gpu"] = ["a100"];
        config.Resources["a100"] = new ResourceConfig
        {
            Provider = "kubernetes", MaxInstances = 5, Markets = [new MarketConfig { Market = Market.OnDemand, PriceUsdPerHour = 1.25m }],
        };
        using var provider = new KubernetesProvider(config.Kubernetes);
        var loop = new AutoscalerLoop(config, new ServerConnection(_client), [provider], _clock);
        await loop.StartAsync(default);
        for (var i = 0; i < 3; i++)
        {
            var id = (await _client.CallAsync("tasks.create", new JsonObject { ["name"] = $"t{i}", ["type"] = "training" }))["id"]!.GetValue<string>();
            await _client.Tasks.EnqueueAsync(id, "gpu");
        }

        // Three launches, the first refused by the API server.
        _cluster.Fail("POST", "jobs", 500, times: 1);
        var first = await loop.RunOnceAsync(default);
        Assert.Single(first, d => d.Action == DecisionAction.LaunchFailed);
        var launched = first.Where(d => d.Action == DecisionAction.Launch).Skip(1).Select(d => d.LaunchId!).ToList();
        Assert.Equal(2, _cluster.Jobs().Count);

        // One pod's agent registers; the other pod fails (an interruption).
        _cluster.PodRunning(launched[0]);
        await _client.CallAsync("workers.register", new JsonObject { ["worker"] = $"k8s:a100:{launched[0]}:cpu:0" });
        _cluster.SetPodStatus(launched[1], new JsonObject { ["phase"] = "Failed", ["reason"] = "Evicted", ["message"] = "The node was low on resource: memory." });
        _clock.Advance(TimeSpan.FromSeconds(1));
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
