using System.Text.Json.Nodes;
using Slipway.Commands;
using Slipway.TestSupport.Agents;

namespace Slipway.Tests;

/// <summary>`slipway task create` makes a task an agent can run, from a repository or a local script.</summary>
public sealed class TaskCreateCommandTests
{
    private static async Task<(int Exit, string Out, string Err)> RunCliAsync(TestServer server, params string[] args)
    {
        var conf = server.WriteClientConf(Path.Combine(server.DataDir, "test-clearml.conf"));
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Cli.RunAsync([.. args, "--conf", conf], output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Task_from_a_repository_with_args_and_packages_is_enqueued_and_run_by_an_agent()
    {
        using var repo = new GitRepo();
        repo.Write("tools/run.py", "print('run from the repository')\n");
        repo.Commit("one");
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");

        var (exit, output, error) = await RunCliAsync(server, "task", "create", "--project", "cli/created", "--repo", repo.Path, "--branch", "main",
            "--script", "tools/run.py", "--args", "lr=0.25", "--args", "epochs=4", "--packages", "numpy==2.1", "--queue", "q", "--json");

        Assert.True(exit == 0, error);
        var id = JsonNode.Parse(output)!["id"]!.GetValue<string>();
        var created = await client.Tasks.GetAsync(id);
        Assert.Equal(repo.Path, created.Raw["script"]?["repository"]?.GetValue<string>());
        Assert.Equal("main", created.Raw["script"]?["branch"]?.GetValue<string>());
        Assert.Equal("0.25", created.Raw["hyperparams"]?["Args"]?["lr"]?["value"]?.GetValue<string>());
        Assert.Equal("4", created.Raw["hyperparams"]?["Args"]?["epochs"]?["value"]?.GetValue<string>());
        Assert.Contains("numpy==2.1", created.Raw["script"]?["requirements"]?["pip"]?.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("queued", created.Status);

        // Run it with the system interpreter (numpy is only recorded, not installed).
        var options = RunningAgent.DefaultOptions("q");
        options.SystemPython = true;
        await using var agent = new RunningAgent(server, options);
        var task = await TestTasks.WaitFinishedAsync(client, id);
        Assert.Equal("completed", task.Status);
        Assert.Contains("run from the repository", await TestTasks.ConsoleAsync(client, id), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Task_from_a_local_shell_script_carries_the_script_itself()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var script = Path.Combine(server.DataDir, "job.sh");
        await File.WriteAllTextAsync(script, "echo shell job ran\n");

        var (exit, output, error) = await RunCliAsync(server, "task", "create", "--project", "cli", "--script", script, "--queue", "q");

        Assert.True(exit == 0, error);
        var id = output.Trim();
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var task = await TestTasks.WaitFinishedAsync(client, id);
        Assert.True(task.Status == "completed", task.StatusReason + "\n" + await TestTasks.ConsoleAsync(client, id));
        Assert.Contains("shell job ran", await TestTasks.ConsoleAsync(client, id), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Branch_without_a_repository_is_a_usage_error()
    {
        await using var server = await TestServer.StartAsync();
        var (exit, _, error) = await RunCliAsync(server, "task", "create", "--project", "p", "--script", "x.py", "--branch", "main");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--repo", error, StringComparison.Ordinal);
    }
}
