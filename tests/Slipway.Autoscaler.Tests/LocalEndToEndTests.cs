using System.Text.Json.Nodes;
using Slipway.Autoscaler.Tests.Infrastructure;
using Slipway.Client;

namespace Slipway.Autoscaler.Tests;

/// <summary>
/// The autoscaler with the local provider against a real server on loopback: real <c>slipway agent</c> processes come up
/// for queued tasks and go away when idle.
/// </summary>
public sealed class LocalEndToEndTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private SlipwayClient _client = null!;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "slipway-local-provider-" + Guid.NewGuid().ToString("N")[..12]);

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
        await _client.Queues.CreateAsync("q");
    }

    public async Task DisposeAsync()
    {
        // Whatever a failed test left running is stopped here.
        var provider = Provider();
        foreach (var instance in await provider.ListAsync("e2e", default))
            await provider.TerminateAsync(instance.InstanceId, default);
        _client.Dispose();
        await _server.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private LocalProvider Provider() => new(Config().Local, _root, _server.Environment()) { TerminateGrace = TimeSpan.FromSeconds(5) };

    private static AutoscalerConfig Config(bool requeue = true)
    {
        var config = new AutoscalerConfig
        {
            Name = "e2e",
            MaxInstances = 3,
            PollIntervalSeconds = 0.25,
            IdleTimeoutSeconds = 3,
            DrainRecheckSeconds = 0.5,
            SpinUpTimeoutSeconds = 120,
            RequeueOnLoss = requeue,
            Local = new LocalProviderConfig
            {
                Command = ["dotnet", Path.Combine(AppContext.BaseDirectory, "slipway.dll")],
                AgentArguments = ["--ping", "1", "--system-python", "--python", "/usr/bin/python3"],
            },
        };
        config.Queues["q"] = ["local"];
        config.Resources["local"] = new ResourceConfig { Provider = "local", MaxInstances = 3 };
        return config;
    }

    private async Task<string> EnqueueAsync(string name, string script, string queue = "q")
    {
        var data = await _client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = name, ["type"] = "training",
            ["script"] = new JsonObject { ["binary"] = "bash", ["entry_point"] = "task.sh", ["diff"] = script },
        });
        var id = data["id"]!.GetValue<string>();
        await _client.Tasks.EnqueueAsync(id, queue);
        return id;
    }

    private async Task<List<JsonObject>> EventsAsync() =>
        ((await _client.CallAsync("autoscaler.get_events", new JsonObject { ["scaler"] = "e2e", ["page_size"] = 1000 }))["events"] as JsonArray ?? [])
        .OfType<JsonObject>().Reverse().ToList();

    private static string Action(JsonObject e) => e["action"]!.GetValue<string>();

    [Fact]
    public async Task Five_queued_tasks_with_max_three_run_on_at_most_three_agents_once_each_and_the_agents_go_when_idle()
    {
        var marker = Path.Combine(_root, "runs.txt");
        Directory.CreateDirectory(_root);
        var tasks = new List<string>();
        for (var i = 0; i < 5; i++)
            tasks.Add(await EnqueueAsync($"t{i}", $"sleep 1\necho \"$CLEARML_TASK_ID\" >> {marker}\n"));

        var provider = Provider();
        var loop = new AutoscalerLoop(Config(), new ServerConnection(_client), [provider]);
        await loop.StartAsync(default);
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        var mostAgents = 0;
        try
        {
            await Poll.UntilAsync(async () =>
            {
                mostAgents = Math.Max(mostAgents, (await provider.ListAsync("e2e", default)).Count(i => i.State == ProviderInstanceState.Running));
                var statuses = new List<string>();
                foreach (var id in tasks)
                    statuses.Add((await _client.Tasks.GetAsync(id)).Status);
                return statuses;
            }, s => s.All(x => x == "completed"), TimeSpan.FromSeconds(120), "all five tasks completed");

            await Poll.UntilAsync(async () => (await provider.ListAsync("e2e", default)).Count, n => n == 0, TimeSpan.FromSeconds(60), "agents gone after the idle timeout");
            // The loop unregisters a stopped agent's workers right after its process has ended: a moment after the listing is empty.
            await Poll.UntilAsync(async () => (await _client.CallAsync("workers.get_all", []))["workers"]!.AsArray()
                    .Count(w => w!["id"]!.GetValue<string>().StartsWith("e2e:", StringComparison.Ordinal)),
                n => n == 0, TimeSpan.FromSeconds(15), "the stopped agents' workers unregistered");
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }

        Assert.InRange(mostAgents, 1, 3);
        Assert.Equal(tasks.Order(), File.ReadAllLines(marker).Order());
        // The log is written once a pass has carried its decisions out, so the last stops may land just after the agents are gone.
        var events = await Poll.UntilAsync(EventsAsync, l => l.Count(e => Action(e) == "terminate") >= l.Count(e => Action(e) == "launch"),
            TimeSpan.FromSeconds(10), "every launch has its stop logged");
        var launches = events.Where(e => Action(e) == "launch").ToList();
        var stops = events.Where(e => Action(e) == "terminate").ToList();
        Assert.InRange(launches.Count, 1, 3); // never more than the max, and no relaunch
        Assert.Equal(launches.Select(e => e["launch_id"]!.GetValue<string>()).Order(), stops.Select(e => e["launch_id"]!.GetValue<string>()).Order());
        // Each was drained through the server first; it ended at the recheck, or its agent stopped by itself on the drain mark.
        Assert.All(stops, e => Assert.Contains(e["reason"]!.GetValue<string>(), new[] { "idle", "drained" }));
        Assert.All(stops, e => Assert.Contains(events.Take(events.IndexOf(e)), d => Action(d) == "drain" && d["launch_id"]?.GetValue<string>() == e["launch_id"]!.GetValue<string>()));
        // Never more than 3 at once, by the log too.
        var live = 0;
        foreach (var e in events)
        {
            live += Action(e) == "launch" ? 1 : Action(e) == "terminate" ? -1 : 0;
            Assert.InRange(live, 0, 3);
        }
    }

    [Fact]
    public async Task Launches_stop_at_the_hourly_budget_the_held_task_says_why_and_runs_once_spend_allows()
    {
        await _client.Queues.CreateAsync("a");
        await _client.Queues.CreateAsync("b");
        var config = Config();
        config.Queues.Clear();
        config.Resources.Clear();
        // Two resources at $1/h each under a $1.50/h cap: only one instance can run at a time.
        foreach (var name in new[] { "a", "b" })
        {
            config.Queues[name] = [name];
            config.Resources[name] = new ResourceConfig { Provider = "local", MaxInstances = 1, Markets = [new MarketConfig { PriceUsdPerHour = 1m }] };
        }
        config.Budget = new BudgetConfig { MaxUsdPerHour = 1.5m };
        var provider = Provider();
        var loop = new AutoscalerLoop(config, new ServerConnection(_client), [provider]);
        await loop.StartAsync(default);
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        try
        {
            var first = await EnqueueAsync("first", "sleep 2\n", "a");
            await Poll.UntilAsync(async () => (await _client.Tasks.GetAsync(first)).Status, s => s == "in_progress", TimeSpan.FromSeconds(60), "the first task running");
            var second = await EnqueueAsync("second", "echo ran\n", "b");
            var held = await Poll.UntilAsync(async () => await _client.Tasks.GetAsync(second), t => t.StatusMessage?.StartsWith("budget:", StringComparison.Ordinal) == true,
                TimeSpan.FromSeconds(30), "the second task held back by the budget");
            Assert.Equal("queued", held.Status);
            Assert.Contains("hourly cap $1.5/h reached ($1/h running, the next instance costs $1/h)", held.StatusMessage, StringComparison.Ordinal);

            // The first instance finishes, idles out and stops: then the second one may start.
            Assert.Equal("completed", (await Poll.UntilAsync(async () => await _client.Tasks.GetAsync(second), t => t.IsFinished, TimeSpan.FromSeconds(90), "the second task finished")).Status);
            Assert.Equal("completed", (await _client.Tasks.GetAsync(first)).Status);
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
        var events = await EventsAsync();
        Assert.Contains(events, e => Action(e) == "hold" && e["reason"]!.GetValue<string>() == Reasons.BudgetHourly);
        var launches = events.Where(e => Action(e) == "launch").Select(e => e["resource"]!.GetValue<string>()).ToList();
        Assert.Equal(["a", "b"], launches);
        // Never both at once: b's launch comes after a's stop.
        var firstStop = events.FindIndex(e => Action(e) == "terminate" && e["resource"]!.GetValue<string>() == "a");
        Assert.InRange(firstStop, 0, events.FindIndex(e => Action(e) == "launch" && e["resource"]!.GetValue<string>() == "b"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_agent_killed_mid_task_has_its_task_requeued_and_finished_by_a_replacement_or_failed_naming_the_instance(bool requeue)
    {
        var marker = Path.Combine(_root, "runs.txt");
        Directory.CreateDirectory(_root);
        var flag = Path.Combine(_root, "first-run");
        // The first run waits to be killed; a re-run finishes at once.
        var task = await EnqueueAsync("victim", $"echo start >> {marker}\nif [ ! -e {flag} ]; then touch {flag}; sleep 60; fi\necho done >> {marker}\n");

        var provider = Provider();
        var config = Config(requeue);
        var loop = new AutoscalerLoop(config, new ServerConnection(_client), [provider]);
        await loop.StartAsync(default);
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        try
        {
            await Poll.UntilAsync(async () => (await _client.Tasks.GetAsync(task)).Status, s => s == "in_progress", TimeSpan.FromSeconds(60), "task running");
            await Poll.UntilAsync(() => Task.FromResult(File.Exists(flag)), f => f, TimeSpan.FromSeconds(30), "first run started");
            var victim = (await provider.ListAsync("e2e", default)).Single();
            // The machine dies: the agent and everything it started, at once.
            var pid = int.Parse(victim.InstanceId.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture);
            ProcessKill.TreeWithSigkill(pid);

            var ended = await Poll.UntilAsync(async () => await _client.Tasks.GetAsync(task), t => t.Status is "completed" or "failed",
                TimeSpan.FromSeconds(90), "task ended");
            // The log is written after the pass has carried its decisions out.
            var events = await Poll.UntilAsync(EventsAsync, l => l.Any(e => Action(e) is "requeuetask" or "failtask"), TimeSpan.FromSeconds(10), "release logged");
            Assert.Contains(events, e => Action(e) == "lost" && e["instance_id"]!.GetValue<string>() == victim.InstanceId);
            if (requeue)
            {
                Assert.Equal("completed", ended.Status);
                Assert.Equal(["start", "start", "done"], File.ReadAllLines(marker));
                Assert.Contains(events, e => Action(e) == "requeuetask");
                Assert.Equal(2, events.Count(e => Action(e) == "launch"));
            }
            else
            {
                Assert.Equal("failed", ended.Status);
                Assert.Contains(victim.InstanceId, ended.StatusReason ?? "", StringComparison.Ordinal);
                Assert.Equal(["start"], File.ReadAllLines(marker));
                Assert.Contains(events, e => Action(e) == "failtask");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
    }

    [Fact]
    public async Task A_restarted_autoscaler_adopts_its_running_agent_and_terminates_an_instance_nothing_explains()
    {
        var task = await EnqueueAsync("long", "sleep 4\n");
        var provider = Provider();
        var first = new AutoscalerLoop(Config(), new ServerConnection(_client), [provider]);
        await first.StartAsync(default);
        using (var stop = new CancellationTokenSource())
        {
            var run = first.RunAsync(stop.Token);
            await Poll.UntilAsync(async () => (await _client.Tasks.GetAsync(task)).Status, s => s == "in_progress", TimeSpan.FromSeconds(60), "task running");
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
        var agent = (await provider.ListAsync("e2e", default)).Single();

        // Something tagged as this autoscaler's that no record or worker explains (a launch whose record was lost).
        var stray = new LocalProvider(new LocalProviderConfig { Command = ["sh", "-c", "sleep 600", "stray"] }, _root);
        var strayId = await stray.LaunchAsync(new LaunchRequest("e2e", "stray1", "local", "local", new Offering("local", null, Market.OnDemand), 1, ["q"]), default);

        var second = new AutoscalerLoop(Config(), new ServerConnection(_client), [provider]);
        await second.StartAsync(default);
        var decisions = await second.RunOnceAsync(default);
        Assert.Contains(decisions, d => d.Action == DecisionAction.Terminate && d.Reason == Reasons.Orphan && d.InstanceId == strayId);
        Assert.DoesNotContain(decisions, d => d.Action == DecisionAction.Launch);
        var listed = await provider.ListAsync("e2e", default);
        Assert.Equal(agent.InstanceId, Assert.Single(listed).InstanceId);
        Assert.Equal("completed", (await Poll.UntilAsync(async () => await _client.Tasks.GetAsync(task), t => t.IsFinished, TimeSpan.FromSeconds(60), "task finished")).Status);
    }
}
