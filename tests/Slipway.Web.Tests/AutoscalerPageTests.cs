using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Slipway.Autoscaler;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>
/// The Autoscaler page, from state and decisions the real reconciler produced and wrote through the autoscaler.* endpoints
/// (two passes on a moved clock: a burst launched, one launch refused, one pod unschedulable, one agent registered).
/// </summary>
[Collection("web")]
public sealed class AutoscalerPageTests(WebFixture web)
{
    private sealed class MovedClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task The_page_shows_resources_instances_spend_the_capacity_chart_launch_failures_and_decisions()
    {
        var scaler = $"web-{Guid.NewGuid().ToString("N")[..8]}";
        var config = new AutoscalerConfig { Name = scaler, MaxInstances = 10, MaxLaunchesInFlight = 10 };
        config.Queues["gpu"] = ["a100"];
        config.Resources["a100"] = new ResourceConfig
        {
            Provider = "kubernetes", MachineType = "a100-pod", MinInstances = 1, MaxInstances = 4,
            Markets = [new MarketConfig { Market = Market.OnDemand, PriceUsdPerHour = 2.5m }],
        };
        var clock = new MovedClock(DateTimeOffset.UtcNow - TimeSpan.FromMinutes(3));
        var reconciler = new Reconciler(config, clock);
        var state = new AutoscalerState();
        var server = new ServerConnection(web.Client);

        IReadOnlyDictionary<string, IReadOnlyList<string>> Queued(params string[] tasks) => new Dictionary<string, IReadOnlyList<string>> { ["gpu"] = tasks };
        var first = reconciler.Decide(new ClusterSnapshot(Queued("t0", "t1", "t2"), [], []), state).Decisions.ToList();
        var launches = first.Where(d => d.Action == DecisionAction.Launch).Select(d => d.LaunchId!).ToList();
        Assert.Equal(3, launches.Count);
        Reconciler.Launched(state, launches[0], "ml/job-a");
        Reconciler.Launched(state, launches[1], "ml/job-b");
        first.Add(reconciler.LaunchFailed(state, launches[2], capacity: false, "kubernetes: create Job ml/job-c: HTTP 429 Too Many Requests: throttled by the API server"));

        clock.Now += TimeSpan.FromSeconds(90);
        var second = reconciler.Decide(new ClusterSnapshot(Queued("t1", "t2"),
            [new WorkerView($"{scaler}:a100:{launches[0]}:cpu:0", "t0")],
            [
                new ProviderInstance("ml/job-a", launches[0], "a100", ProviderInstanceState.Running),
                new ProviderInstance("ml/job-b", launches[1], "a100", ProviderInstanceState.Pending, "kubernetes: pod job-b-x1 is unschedulable: 0/3 nodes are available"),
            ]), state).Decisions;
        Assert.Contains(second, d => d.Action == DecisionAction.Ready);
        Assert.Contains(second, d => d.Action == DecisionAction.Hold && d.Reason == Reasons.InstancePending);
        await server.SaveStateAsync(scaler, state, default);
        await server.AppendLogAsync(scaler, [.. first, .. second], default);

        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("projects");
        await tab.Page.Locator("nav.sidebar").GetByRole(AriaRole.Link, new() { Name = "Autoscaler" }).ClickAsync();
        await tab.Page.WaitForURLAsync("**/autoscaler");
        var section = tab.Page.Locator($"section.autoscaler[data-scaler='{scaler}']");

        var resource = section.Locator("table.resources tr[data-resource='a100']");
        await Assertions.Expect(resource.Locator("td.min")).ToHaveTextAsync("1");
        await Assertions.Expect(resource.Locator("td.max")).ToHaveTextAsync("4");
        await Assertions.Expect(resource.Locator("td.desired")).ToHaveTextAsync("2");
        await Assertions.Expect(resource.Locator("td.actual")).ToHaveTextAsync("1");
        await Assertions.Expect(resource.Locator("td.booting")).ToHaveTextAsync("1");
        await Assertions.Expect(resource.Locator("td.failures")).ToHaveTextAsync("1");

        await Assertions.Expect(section.Locator($"table.instances tr[data-launch='{launches[0]}']")).ToContainTextAsync("ready");
        await Assertions.Expect(section.Locator($"table.instances tr[data-launch='{launches[0]}'] td.age")).ToHaveTextAsync(new Regex("^[34]m"));
        await Assertions.Expect(section.Locator($"table.instances tr[data-launch='{launches[1]}']")).ToContainTextAsync("booting");
        await Assertions.Expect(section.Locator($"table.instances tr[data-launch='{launches[1]}'] td.detail")).ToContainTextAsync("unschedulable: 0/3 nodes are available");
        await Assertions.Expect(section.Locator($"table.instances tr[data-launch='{launches[2]}']")).ToContainTextAsync("launch failed");

        await Assertions.Expect(section.Locator("dd.rate")).ToHaveTextAsync("$5.00/h");
        await Assertions.Expect(section.Locator("dd.projected")).ToContainTextAsync("$");

        await Assertions.Expect(section.Locator("table.failures")).ToContainTextAsync("HTTP 429 Too Many Requests: throttled by the API server");
        var decisions = section.Locator("table.decisions");
        await Assertions.Expect(decisions.Locator("tr[data-action='launch']")).ToHaveCountAsync(3);
        await Assertions.Expect(decisions.Locator("tr[data-action='launch'] td.reason").First).ToHaveTextAsync("demand");
        await Assertions.Expect(decisions.Locator("tr[data-action='hold'] td.reason")).ToHaveTextAsync("instance_pending");
        await Assertions.Expect(decisions.Locator("tr[data-action='ready']")).ToContainTextAsync("agent registered after 90 s");

        var plot = await section.Locator(".chart[data-chart='Queue depth and capacity'] .plot").ElementHandleAsync();
        await tab.Page.WaitForFunctionAsync("el => slipway.pointCount(el) > 0", plot);
        await tab.ScreenshotAsync("autoscaler");
    }
}
