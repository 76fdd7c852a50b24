using System.Text.Json.Nodes;
using Slipway.Client;
using Slipway.TestSupport.Agents;

namespace Slipway.Agent.Tests;

/// <summary>A drained agent (autoscaler.drain_workers on its worker) takes no new task and stops once its current one has ended.</summary>
public sealed class AgentDrainTests : IAsyncLifetime
{
    private readonly string _gate = Path.Combine(Path.GetTempPath(), "slipway-drain-gate-" + Guid.NewGuid().ToString("N"));
    private TestServer _server = null!;
    private SlipwayClient _client = null!;
    private RunningAgent _agent = null!;

    /// <summary>The task one slot of the two-slot agent runs: it waits for the gate file.</summary>
    private string _running = "";

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
        await _client.Queues.CreateAsync("q");
        var options = RunningAgent.DefaultOptions("q");
        options.Slots = 2;
        _agent = new RunningAgent(_server, options);
        _running = await TestTasks.CreateAsync(_client, "running", TestTasks.Shell($"while [ ! -e {_gate} ]; do sleep 0.05; done\necho finished\n"), "q");
        await TestTasks.WaitUntilAsync(_client, _running, t => t.Status == "in_progress");
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _client.Dispose();
        await _server.DisposeAsync();
        File.Delete(_gate);
    }

    private async Task DrainAsync(bool drain)
    {
        await _client.CallAsync("autoscaler.drain_workers", new JsonObject
        {
            ["workers"] = new JsonArray(_agent.Agent.WorkerIds.Select(w => (JsonNode?)w).ToArray()), ["drain"] = drain, ["reason"] = "autoscaler test: idle",
        });
        // Both slots read the change from their reports' answers (every second here).
        await TestTasks.WaitForAsync(() => Task.FromResult(_agent.Agent.DrainingWorkers.Count), n => n == (drain ? 2 : 0));
    }

    [Fact]
    public async Task A_drained_agent_finishes_its_task_takes_no_other_and_stops_unregistering_its_workers()
    {
        await DrainAsync(true);
        var waiting = await TestTasks.CreateAsync(_client, "waiting", TestTasks.Shell("echo should not run here\n"), "q");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal("queued", (await _client.Tasks.GetAsync(waiting)).Status);
        Assert.False(_agent.Completion.IsCompleted, "the agent stopped while its task still ran");

        File.WriteAllText(_gate, "");
        Assert.Equal("completed", (await TestTasks.WaitFinishedAsync(_client, _running)).Status);
        await _agent.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("drained by the server: autoscaler test: idle", _agent.Agent.ShutdownReason, StringComparison.Ordinal);
        Assert.Equal("queued", (await _client.Tasks.GetAsync(waiting)).Status);
        var left = ((await _client.CallAsync("workers.get_all", []))["workers"] as JsonArray ?? []).Select(w => w!["id"]!.GetValue<string>());
        Assert.DoesNotContain(left, id => _agent.Agent.WorkerIds.Contains(id));
    }

    [Fact]
    public async Task An_agent_undrained_before_it_went_idle_serves_again()
    {
        await DrainAsync(true);
        await DrainAsync(false);
        File.WriteAllText(_gate, "");
        Assert.Equal("completed", (await TestTasks.WaitFinishedAsync(_client, _running)).Status);

        var next = await TestTasks.CreateAsync(_client, "next", TestTasks.Shell("echo again\n"), "q");
        Assert.Equal("completed", (await TestTasks.WaitFinishedAsync(_client, next)).Status);
        Assert.False(_agent.Completion.IsCompleted);
        Assert.Null(_agent.Agent.ShutdownReason);
    }
}
