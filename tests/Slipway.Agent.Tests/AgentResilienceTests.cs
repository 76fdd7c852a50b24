using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Client;
using Slipway.TestSupport.Agents;

namespace Slipway.Agent.Tests;

/// <summary>The agent against a server that restarts, an agent that dies, and many agents sharing a queue.</summary>
public sealed class AgentResilienceTests
{
    [Fact]
    public async Task Task_completes_when_the_server_restarts_while_it_runs()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var gate = Path.Combine(Path.GetTempPath(), "slipway-gate-" + Guid.NewGuid().ToString("N"));
        var started = gate + ".started";
        // The task says it started, then waits for the test to let it go (while the server is down it prints more).
        var id = await TestTasks.CreateAsync(client, "survivor", TestTasks.Shell(
            $"echo before the restart\necho up > {started}\nwhile [ ! -e {gate} ]; do sleep 0.05; done\necho after the restart\n"), "q");
        await TestTasks.WaitForFileAsync(started);
        await TestTasks.WaitUntilAsync(client, id, t => t.Status == "in_progress");

        await server.StopAsync();
        await File.WriteAllTextAsync(gate, "go");
        await server.StartAgainAsync();

        var task = await TestTasks.WaitFinishedAsync(client, id);
        Assert.Equal("completed", task.Status);
        var console = await TestTasks.ConsoleAsync(client, id);
        Assert.Contains("before the restart", console, StringComparison.Ordinal);
        Assert.Contains("after the restart", console, StringComparison.Ordinal);

        // And the agent still takes new work.
        var next = await TestTasks.CreateAsync(client, "after", TestTasks.Shell("echo next\n"), "q");
        Assert.Equal("completed", (await TestTasks.WaitFinishedAsync(client, next)).Status);
        File.Delete(gate);
        File.Delete(started);
    }

    [Fact]
    public async Task Agent_killed_with_SIGKILL_mid_task_leaves_the_task_to_the_watchdog_which_fails_it()
    {
        await using var server = await TestServer.StartAsync(new() { Configure = options => options.WatchdogTimeout = TimeSpan.FromSeconds(3) });
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var work = Path.Combine(Path.GetTempPath(), "slipway-agent-work-" + Guid.NewGuid().ToString("N")[..12]);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "slipway.dll"), "agent", "--queue", "q", "--ping", "1", "--work-dir", work })
            start.ArgumentList.Add(arg);
        foreach (var (key, value) in server.Environment())
            start.Environment[key] = value;
        using var agent = Process.Start(start)!;
        _ = agent.StandardOutput.ReadToEndAsync();
        _ = agent.StandardError.ReadToEndAsync();
        try
        {
            var id = await TestTasks.CreateAsync(client, "orphan", TestTasks.Shell("echo running\nsleep 30\n"), "q");
            await TestTasks.WaitUntilAsync(client, id, t => t.Status == "in_progress");
            var clock = Stopwatch.StartNew();

            agent.Kill(entireProcessTree: false);
            TaskInfo task;
            try
            {
                task = await TestTasks.WaitFinishedAsync(client, id, TimeSpan.FromSeconds(30));
            }
            catch (OperationCanceledException)
            {
                var workers = await client.CallAsync("workers.get_all", new JsonObject());
                Assert.Fail($"not failed: {(await client.Tasks.GetAsync(id)).Raw.ToJsonString()}\nworkers: {workers.ToJsonString()}\nnow {DateTimeOffset.UtcNow:O}");
                throw;
            }

            Assert.Equal("failed", task.Status);
            Assert.Contains("stopped reporting", task.StatusReason, StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the watchdog took {clock.Elapsed}");
        }
        finally
        {
            if (!agent.HasExited)
                agent.Kill(entireProcessTree: true);
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public async Task Four_agents_with_two_slots_each_run_two_hundred_tasks_exactly_once()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var runs = Path.Combine(Path.GetTempPath(), "slipway-runs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(runs);
        var work = Path.Combine(Path.GetTempPath(), "slipway-agent-work-" + Guid.NewGuid().ToString("N")[..12]);
        var agents = new List<RunningAgent>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var options = RunningAgent.DefaultOptions("q", Path.Combine(work, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                options.Slots = 2;
                agents.Add(new RunningAgent(server, options));
            }
            // Each run appends a line to a file named after its task: two lines would mean a task ran twice.
            var ids = new ConcurrentBag<string>();
            await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
                ids.Add(await TestTasks.CreateAsync(client, $"t{i}", TestTasks.Shell($"echo \"$CLEARML_WORKER_ID\" >> {runs}/$CLEARML_TASK_ID\n"), "q")));

            var finished = new ConcurrentBag<string>();
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
                finished.Add((await TestTasks.WaitFinishedAsync(client, id, TimeSpan.FromMinutes(3))).Status));

            Assert.All(finished, status => Assert.Equal("completed", status));
            Assert.Equal(200, finished.Count);
            foreach (var id in ids)
                Assert.Single(File.ReadAllLines(Path.Combine(runs, id)));
            var workers = ids.Select(id => File.ReadAllLines(Path.Combine(runs, id))[0]).Distinct().Count();
            Assert.True(workers > 1, "all tasks ran on one worker");
        }
        finally
        {
            foreach (var agent in agents)
                await agent.DisposeAsync();
            Directory.Delete(runs, recursive: true);
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
