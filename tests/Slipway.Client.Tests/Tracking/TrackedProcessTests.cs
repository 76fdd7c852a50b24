using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Tracking;

/// <summary>A tracked program run as a real child process: how it ends decides the task's status.</summary>
public sealed class TrackedProcessTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private readonly string _project = "child-" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task A_normal_exit_completes_the_task_with_its_console_scalars_and_machine_monitor()
    {
        using var child = ChildRun.Start(server, _project, ["complete", "--batch", "32", "--verbose"]);
        Assert.Equal(0, await child.ExitAsync());
        using var client = server.NewClient();
        var task = await client.Tasks.GetAsync(await child.TaskId);
        Assert.Equal("completed", task.Status);
        Assert.Equal("0.1", task.Parameters["General/LearningRate"]);
        Assert.Equal("32", task.Parameters["Args/batch"]);
        Assert.Equal("true", task.Parameters["Args/verbose"]);
        Assert.Equal("dotnet", task.Code.Binary);
        Assert.Equal("100", task.Raw.Str("runtime.progress"));
        Assert.Equal(Environment.ProcessorCount, (int)task.Raw.Long("runtime.cpu_cores")!);

        var console = await client.Tasks.GetConsoleAsync(task.Id).ToListAsync();
        Assert.Contains(console, e => e.Level == "info" && e.Message.Contains("lr=0.1 epochs=3", StringComparison.Ordinal));
        Assert.Contains(console, e => e.Level == "error" && e.Message.Contains("a warning on stderr", StringComparison.Ordinal));
        Assert.Contains(console, e => e.Message.Contains("done", StringComparison.Ordinal));

        var scalars = await client.Tasks.GetScalarsAsync(task.Id);
        Assert.Equal([0L, 1, 2], scalars["loss"]["train"].Iterations);
        Assert.Equal([1.0, 0.5, 1.0 / 3], scalars["loss"]["train"].Values);
        Assert.True(scalars.ContainsKey(":monitor:machine"), string.Join(",", scalars.Keys));
        Assert.True(scalars[":monitor:machine"].ContainsKey("memory_used_gb"));
    }

    [Fact]
    public async Task An_unhandled_exception_fails_the_task_with_the_reason_and_the_stack_in_the_console()
    {
        using var child = ChildRun.Start(server, _project, ["throw"]);
        Assert.NotEqual(0, await child.ExitAsync());
        using var client = server.NewClient();
        var task = await client.Tasks.GetAsync(await child.TaskId);
        Assert.Equal("failed", task.Status);
        Assert.Contains("the model diverged", task.StatusReason, StringComparison.Ordinal);
        var console = await client.Tasks.GetConsoleAsync(task.Id).ToListAsync();
        Assert.Contains(console, e => e.Level == "error" && e.Message.Contains("InvalidOperationException", StringComparison.Ordinal));
        Assert.Contains(console, e => e.Message.Contains("lr=0.1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_signal_stops_the_task(string signal)
    {
        using var child = ChildRun.Start(server, _project, ["wait"]);
        var id = await child.TaskId;
        await child.Waiting;
        // A run started as a background job (`cmd &` without job control, nohup) hands every child SIGINT ignored, and a
        // process that starts with it ignored keeps ignoring it, as POSIX intends: say so rather than wait for nothing.
        Assert.False(signal == "INT" && child.Ignores(2),
            "SIGINT is ignored in this test run (started as a background job?); run the tests in the foreground, or under `timeout`, which resets it");
        child.Signal(signal);
        await child.ExitAsync();
        using var client = server.NewClient();
        var task = await client.Tasks.GetAsync(id);
        Assert.Equal("stopped", task.Status);
        Assert.Contains("stopped", task.StatusReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_abort_from_outside_cancels_the_run_and_ends_the_process_after_the_grace_period()
    {
        using var child = ChildRun.Start(server, _project, ["wait"]);
        var id = await child.TaskId;
        await child.Waiting;
        using var client = server.NewClient();
        await client.Tasks.AbortAsync(id);
        Assert.Equal(130, await child.ExitAsync());
        Assert.Contains("aborted, cleaning up", child.Output, StringComparison.Ordinal);
        Assert.Equal("stopped", (await client.Tasks.GetAsync(id)).Status);
        var console = await client.Tasks.GetConsoleAsync(id).ToListAsync();
        Assert.Contains(console, e => e.Message.Contains("aborted, cleaning up", StringComparison.Ordinal));
    }

    [Fact]
    public async Task In_remote_mode_the_servers_parameters_replace_the_local_ones()
    {
        using var client = server.NewClient();
        using var first = ChildRun.Start(server, _project, ["complete", "--batch", "32"]);
        Assert.Equal(0, await first.ExitAsync());
        var clone = await client.Tasks.CloneAsync(await first.TaskId, new TaskCloneOptions
        {
            Name = "edited",
            Parameters = new Dictionary<string, string> { ["General/LearningRate"] = "0.5", ["General/Epochs"] = "5", ["Args/batch"] = "64" },
        });
        await client.CallAsync("tasks.started", new() { ["task"] = clone.Id });

        using var remote = ChildRun.Start(server, _project, ["complete", "--batch", "32"], new Dictionary<string, string> { ["CLEARML_TASK_ID"] = clone.Id });
        Assert.Equal(0, await remote.ExitAsync());
        Assert.Equal(clone.Id, await remote.TaskId);
        Assert.Contains("lr=0.5 epochs=5 args=complete --batch 64", remote.Output, StringComparison.Ordinal);
        var task = await client.Tasks.GetAsync(clone.Id);
        Assert.Equal("in_progress", task.Status); // the agent that runs it ends it
        Assert.Equal("0.5", task.Parameters["General/LearningRate"]);
        var scalars = await client.Tasks.GetScalarsAsync(clone.Id);
        Assert.Equal(5, scalars["loss"]["train"].Iterations.Length);
    }

    [Fact]
    public async Task A_remote_value_that_does_not_fit_the_local_type_fails_the_run_with_a_clear_reason()
    {
        using var client = server.NewClient();
        using var first = ChildRun.Start(server, _project, ["complete"]);
        Assert.Equal(0, await first.ExitAsync());
        var clone = await client.Tasks.CloneAsync(await first.TaskId, new TaskCloneOptions
        {
            Parameters = new Dictionary<string, string> { ["General/Epochs"] = "many" },
        });
        await client.CallAsync("tasks.started", new() { ["task"] = clone.Id });
        using var remote = ChildRun.Start(server, _project, ["complete"], new Dictionary<string, string> { ["CLEARML_TASK_ID"] = clone.Id });
        Assert.NotEqual(0, await remote.ExitAsync());
        var task = await client.Tasks.GetAsync(clone.Id);
        Assert.Equal("failed", task.Status);
        Assert.Contains("General/Epochs", task.StatusReason, StringComparison.Ordinal);
        Assert.Contains("'many', which is not a valid int", task.StatusReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_code_state_records_repository_branch_commit_entry_project_and_uncommitted_diff()
    {
        using var repo = new GitRepo();
        var app = Path.Combine(repo.Path, "apps", "train");
        var bin = Path.Combine(app, "bin", "Debug", "net10.0");
        Directory.CreateDirectory(bin);
        foreach (var file in Directory.GetFiles(AppContext.BaseDirectory, "Slipway.Client*"))
            File.Copy(file, Path.Combine(bin, Path.GetFileName(file)));
        repo.Write("apps/train/Slipway.Client.TestProgram.csproj", "<Project />\n");
        repo.Write("apps/train/Program.cs", "// v1\n");
        repo.Write(".gitignore", "bin/\n");
        repo.Git("remote", "add", "origin", "https://git.example.invalid/team/train.git");
        var commit = repo.Commit("first");
        repo.Write("apps/train/Program.cs", "// v2, not committed\n");

        using var child = ChildRun.Start(server, _project, ["complete"], program: Path.Combine(bin, "Slipway.Client.TestProgram.dll"), workingDirectory: repo.Path);
        Assert.Equal(0, await child.ExitAsync());
        using var client = server.NewClient();
        var code = (await client.Tasks.GetAsync(await child.TaskId)).Code;
        Assert.Equal("https://git.example.invalid/team/train.git", code.Repository);
        Assert.Equal("main", code.Branch);
        Assert.Equal(commit, code.Commit);
        Assert.Equal("apps/train", code.WorkingDirectory);
        Assert.Equal("Slipway.Client.TestProgram.csproj", code.EntryPoint);
        Assert.Contains("+// v2, not committed", code.Diff, StringComparison.Ordinal);
        Assert.Contains("-// v1", code.Diff, StringComparison.Ordinal);
    }
}
