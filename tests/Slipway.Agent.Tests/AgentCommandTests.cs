using System.Text.Json.Nodes;
using Slipway.Commands;
using Slipway.TestSupport.Agents;

namespace Slipway.Agent.Tests;

/// <summary>`slipway agent` run through the command line, in process.</summary>
public sealed class AgentCommandTests
{
    private static string Conf(TestServer server) => server.WriteClientConf(Path.Combine(server.DataDir, "test-clearml.conf"));

    [Fact]
    public async Task Agent_command_runs_tasks_until_cancelled_then_unregisters()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("cli-q");
        var work = Path.Combine(server.DataDir, "agent-work");
        using var stop = new CancellationTokenSource();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var run = Cli.RunAsync(["agent", "--queue", "cli-q", "--slots", "2", "--work-dir", work, "--worker-id", "cli-agent", "--conf", Conf(server)],
            output, error, stop.Token);

        var id = await TestTasks.CreateAsync(client, "via-cli", TestTasks.Shell("echo from the cli agent\n"), "cli-q");
        var task = await TestTasks.WaitFinishedAsync(client, id);
        await stop.CancelAsync();
        var exit = await run;

        Assert.Equal("completed", task.Status);
        Assert.Equal(0, exit);
        Assert.Contains("cli-agent:cpu:0, cli-agent:cpu:1", error.ToString(), StringComparison.Ordinal);
        var workers = (await client.CallAsync("workers.get_all", new JsonObject()))["workers"] as JsonArray ?? [];
        Assert.DoesNotContain(workers, w => w?["id"]?.GetValue<string>().StartsWith("cli-agent", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Unknown_queue_fails_with_a_message()
    {
        await using var server = await TestServer.StartAsync();
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await Cli.RunAsync(["agent", "--queue", "nope", "--conf", Conf(server)], output, error);

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("no queue named 'nope'", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("agent")]
    [InlineData("agent", "--queue", "q", "--slots", "0")]
    [InlineData("agent", "--queue", "q", "--watch-spot-notice", "--imds", "169.254.169.254")]
    [InlineData("agent", "--queue", "q", "--imds", "ftp://metadata")]
    public async Task Bad_arguments_are_usage_errors(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(ExitCodes.Usage, await Cli.RunAsync(args, output, error));
        if (args.Contains("--imds"))
            Assert.Contains("--imds wants an http URL", error.ToString(), StringComparison.Ordinal);
    }
}
