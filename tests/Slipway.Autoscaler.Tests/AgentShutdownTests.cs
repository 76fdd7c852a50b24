using System.Text.Json.Nodes;
using Slipway.Autoscaler.Tests.Infrastructure;
using Slipway.Commands;

namespace Slipway.Autoscaler.Tests;

/// <summary>The agent's dead-man's switch: it stops by itself when idle or cut off, so a dead autoscaler leaks no machine.</summary>
public sealed class AgentShutdownTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "slipway-agent-shutdown-" + Guid.NewGuid().ToString("N")[..12]);

    public AgentShutdownTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Conf(TestServer server) => server.WriteClientConf(Path.Combine(_dir, "clearml.conf"));

    [Fact]
    public async Task An_idle_agent_stops_by_itself_runs_the_shutdown_command_and_unregisters()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var flag = Path.Combine(_dir, "shut-down");
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var run = Cli.RunAsync(["agent", "--queue", "q", "--worker-id", "dms", "--work-dir", Path.Combine(_dir, "work"), "--idle-shutdown", "2s",
            "--shutdown-command", $"touch {flag}", "--conf", Conf(server)], output, error, deadline.Token);

        // It serves first (a task runs), then stops once idle.
        var task = (await client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = "one", ["type"] = "training", ["script"] = new JsonObject { ["binary"] = "bash", ["entry_point"] = "t.sh", ["diff"] = "echo hi\n" },
        }))["id"]!.GetValue<string>();
        await client.Tasks.EnqueueAsync(task, "q");
        var exit = await run;

        Assert.False(deadline.IsCancellationRequested, "the agent did not stop by itself");
        Assert.Equal(0, exit);
        Assert.Equal("completed", (await client.Tasks.GetAsync(task)).Status);
        Assert.Contains("stopped: every slot has been idle", error.ToString(), StringComparison.Ordinal);
        Assert.True(File.Exists(flag), "the shutdown command did not run");
        var workers = (await client.CallAsync("workers.get_all", []))["workers"]!.AsArray();
        Assert.DoesNotContain(workers, w => w!["id"]!.GetValue<string>().StartsWith("dms:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_agent_with_max_tasks_one_runs_one_task_then_stops_and_leaves_the_next_queued()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var tasks = new List<string>();
        foreach (var name in new[] { "first", "second" })
        {
            var id = (await client.CallAsync("tasks.create", new JsonObject
            {
                ["name"] = name, ["type"] = "training", ["script"] = new JsonObject { ["binary"] = "bash", ["entry_point"] = "t.sh", ["diff"] = "echo hi\n" },
            }))["id"]!.GetValue<string>();
            await client.Tasks.EnqueueAsync(id, "q");
            tasks.Add(id);
        }
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exit = await Cli.RunAsync(["agent", "--queue", "q", "--worker-id", "one", "--work-dir", Path.Combine(_dir, "work"), "--max-tasks", "1",
            "--conf", Conf(server)], output, error, deadline.Token);

        Assert.False(deadline.IsCancellationRequested, "the agent did not stop by itself");
        Assert.Equal(0, exit);
        Assert.Equal("completed", (await client.Tasks.GetAsync(tasks[0])).Status);
        Assert.Equal("queued", (await client.Tasks.GetAsync(tasks[1])).Status);
        Assert.Contains("stopped: ran its 1 task(s) (--max-tasks)", error.ToString(), StringComparison.Ordinal);
        var workers = (await client.CallAsync("workers.get_all", []))["workers"]!.AsArray();
        Assert.DoesNotContain(workers, w => w!["id"]!.GetValue<string>().StartsWith("one:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_agent_cut_off_from_its_server_stops_after_the_limit()
    {
        var revived = await TestServer.StartAsync();
        using (var client = revived.NewClient())
            await client.Queues.CreateAsync("q");
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var run = Cli.RunAsync(["agent", "--queue", "q", "--worker-id", "cut", "--work-dir", Path.Combine(_dir, "work"), "--shutdown-if-server-unreachable", "3s",
            "--conf", Conf(revived)], output, error, deadline.Token);
        await Poll.UntilAsync(async () =>
        {
            using var c = revived.NewClient();
            return (await c.CallAsync("workers.get_all", []))["workers"]!.AsArray().Count;
        }, n => n > 0, TimeSpan.FromSeconds(30), "agent registered");
        await revived.DisposeAsync();

        var exit = await run;
        Assert.False(deadline.IsCancellationRequested, "the agent did not stop by itself");
        Assert.Equal(0, exit);
        Assert.Contains("stopped: the server has not answered for", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--idle-shutdown", "soon")]
    [InlineData("--idle-shutdown", "-5m")]
    [InlineData("--shutdown-if-server-unreachable", "3x")]
    public async Task A_bad_duration_is_a_usage_error(string option, string value)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(ExitCodes.Usage, await Cli.RunAsync(["agent", "--queue", "q", option, value], output, error));
        Assert.Contains($"{option} wants a positive duration", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Max_tasks_below_one_is_a_usage_error()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(ExitCodes.Usage, await Cli.RunAsync(["agent", "--queue", "q", "--max-tasks", "0"], output, error));
        Assert.Contains("--max-tasks must be at least 1", error.ToString(), StringComparison.Ordinal);
    }
}
