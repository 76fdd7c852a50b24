using System.Text.Json.Nodes;
using Slipway.Agent.Tests.Infrastructure;
using Slipway.TestSupport.Agents;

namespace Slipway.Agent.Tests;

/// <summary>Tasks of each kind run through a real agent against a real server on loopback.</summary>
public sealed class AgentRunTests
{
    [Fact]
    public async Task Literal_shell_script_completes_with_its_output_in_the_console_and_the_task_identity_in_its_environment()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var id = await TestTasks.CreateAsync(client, "hello", TestTasks.Shell("echo \"hello from $CLEARML_TASK_ID on $CLEARML_WORKER_ID\"\necho to-stderr >&2\n"), "q");

        var task = await TestTasks.WaitFinishedAsync(client, id);

        Assert.Equal("completed", task.Status);
        var console = await TestTasks.ConsoleAsync(client, id);
        Assert.Contains($"hello from {id} on {agent.Agent.WorkerIds[0]}", console, StringComparison.Ordinal);
        Assert.Contains("to-stderr", console, StringComparison.Ordinal);
        Assert.Contains("Process completed successfully", console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failing_script_fails_the_task_with_the_exit_code_in_the_reason()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var id = await TestTasks.CreateAsync(client, "fails", TestTasks.Shell("echo about to fail\nexit 3\n"), "q");

        var task = await TestTasks.WaitFinishedAsync(client, id);

        Assert.Equal("failed", task.Status);
        Assert.Contains("exit code 3", task.StatusReason, StringComparison.Ordinal);
        Assert.Contains("about to fail", await TestTasks.ConsoleAsync(client, id), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Abort_mid_run_stops_the_task_and_ends_the_whole_process_tree()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var pids = Path.Combine(Path.GetTempPath(), "slipway-pids-" + Guid.NewGuid().ToString("N"));
        // The script starts a grandchild that ignores SIGTERM, then waits.
        var id = await TestTasks.CreateAsync(client, "sleeper", TestTasks.Shell(
            $"bash -c 'trap \"\" TERM; sleep 300' &\necho $! > {pids}.tmp\necho $$ >> {pids}.tmp\nmv {pids}.tmp {pids}\necho started\nwait\n"), "q");
        await TestTasks.WaitForFileAsync(pids);
        var running = await TestTasks.WaitUntilAsync(client, id, t => t.Status == "in_progress");

        await client.Tasks.AbortAsync(id);
        var task = await TestTasks.WaitFinishedAsync(client, id);

        Assert.Equal("stopped", task.Status);
        Assert.Equal("user abort", task.StatusReason);
        foreach (var pid in File.ReadAllLines(pids).Select(int.Parse))
            Assert.False(TestTasks.ProcessAlive(pid), $"process {pid} of the aborted task is still running");
        Assert.Contains("started", await TestTasks.ConsoleAsync(client, id), StringComparison.Ordinal);
        File.Delete(pids);
    }

    [Fact]
    public async Task Repository_task_runs_the_commit_with_the_uncommitted_diff_applied()
    {
        using var repo = new GitRepo();
        repo.Write("src/train.py", "print('version one')\n");
        var first = repo.Commit("one");
        repo.Write("src/train.py", "print('version two')\n");
        repo.Commit("two");
        // A diff against the first commit, as the SDK records uncommitted changes.
        var diff = "diff --git a/src/train.py b/src/train.py\n--- a/src/train.py\n+++ b/src/train.py\n@@ -1 +1,2 @@\n print('version one')\n+print('patched by the diff')\n";
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var options = RunningAgent.DefaultOptions("q");
        options.SystemPython = true;
        await using var agent = new RunningAgent(server, options);
        var id = await TestTasks.CreateAsync(client, "repo", new JsonObject
        {
            ["repository"] = repo.Path,
            ["version_num"] = first,
            ["entry_point"] = "train.py",
            ["working_dir"] = "src",
            ["diff"] = diff,
        }, "q");

        var task = await TestTasks.WaitFinishedAsync(client, id);

        var console = await TestTasks.ConsoleAsync(client, id);
        Assert.True(task.Status == "completed", console);
        Assert.Contains("version one", console, StringComparison.Ordinal);
        Assert.Contains("patched by the diff", console, StringComparison.Ordinal);
        Assert.DoesNotContain("version two", console, StringComparison.Ordinal);

        // A second task of the same repository at its branch head reuses the cache and sees the newer commit.
        var second = await TestTasks.CreateAsync(client, "repo-branch", new JsonObject
        {
            ["repository"] = repo.Path,
            ["branch"] = "main",
            ["entry_point"] = "src/train.py",
        }, "q");
        Assert.Equal("completed", (await TestTasks.WaitFinishedAsync(client, second)).Status);
        Assert.Contains("version two", await TestTasks.ConsoleAsync(client, second), StringComparison.Ordinal);
        var recorded = await client.Tasks.GetAsync(second);
        Assert.Equal(repo.Git("rev-parse", "HEAD"), recorded.Raw["script"]?["version_num"]?.GetValue<string>());
    }

    [Fact]
    public async Task Second_python_task_with_the_same_requirements_reuses_the_environment()
    {
        var packages = Path.Combine(Path.GetTempPath(), "slipway-wheels-" + Guid.NewGuid().ToString("N")[..8]);
        TinyWheel.Build(packages, "slipwaytiny", "1.0", "GREETING = 'hello from a tiny package'\n");
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var options = RunningAgent.DefaultOptions("q");
        options.PipArguments.AddRange(["--no-index", "--find-links", packages]);
        await using var agent = new RunningAgent(server, options);
        JsonObject Script() => new()
        {
            ["binary"] = "python3",
            ["entry_point"] = "main.py",
            ["diff"] = "import sys, slipwaytiny\nprint(slipwaytiny.GREETING, sys.prefix)\n",
            ["requirements"] = new JsonObject { ["pip"] = "slipwaytiny==1.0\n" },
        };

        var first = await TestTasks.CreateAsync(client, "py-1", Script(), "q");
        var firstTask = await TestTasks.WaitFinishedAsync(client, first, TimeSpan.FromMinutes(2));
        var second = await TestTasks.CreateAsync(client, "py-2", Script(), "q");
        var secondTask = await TestTasks.WaitFinishedAsync(client, second, TimeSpan.FromMinutes(2));

        var firstConsole = await TestTasks.ConsoleAsync(client, first);
        var secondConsole = await TestTasks.ConsoleAsync(client, second);
        Assert.True(firstTask.Status == "completed", firstConsole);
        Assert.Equal("completed", secondTask.Status);
        Assert.Contains("hello from a tiny package", firstConsole, StringComparison.Ordinal);
        Assert.Contains("hello from a tiny package", secondConsole, StringComparison.Ordinal);
        Assert.Contains("(built)", firstConsole, StringComparison.Ordinal);
        Assert.Contains("(cached)", secondConsole, StringComparison.Ordinal);
        Directory.Delete(packages, recursive: true);
    }

    [Fact]
    public async Task Dotnet_program_attaches_to_the_task_it_runs_and_completes()
    {
        // The test program is built with this test project; the agent runs its assembly with dotnet.
        var assembly = Path.Combine(AppContext.BaseDirectory, "Slipway.Client.TestProgram.dll");
        Assert.True(File.Exists(assembly), assembly);
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var id = await TestTasks.CreateAsync(client, "dotnet", new JsonObject
        {
            ["binary"] = "dotnet",
            ["entry_point"] = assembly,
        });
        await client.Tasks.SetParametersAsync(id, new Dictionary<string, string> { ["General/LearningRate"] = "0.5" });
        await client.Tasks.EnqueueAsync(id, "q");

        var task = await TestTasks.WaitFinishedAsync(client, id, TimeSpan.FromMinutes(2));

        var console = await TestTasks.ConsoleAsync(client, id);
        Assert.True(task.Status == "completed", console);
        // Once: the agent ships the console, the SDK in the task leaves it to the agent.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(console, $"task {id} lr=0.5"));
        var scalars = await client.Tasks.GetScalarsAsync(id);
        Assert.Equal(3, scalars["loss"]["train"].Iterations.Length);
    }

    [Fact]
    public async Task Dotnet_project_in_a_repository_runs_with_dotnet_run()
    {
        using var repo = new GitRepo();
        repo.Write("app/App.csproj", """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
            </Project>
            """);
        repo.Write("app/Program.cs", "Console.WriteLine($\"dotnet project ran for {Environment.GetEnvironmentVariable(\"CLEARML_TASK_ID\")}\");\n");
        repo.Commit("app");
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var id = await TestTasks.CreateAsync(client, "dotnet-run", new JsonObject
        {
            ["repository"] = repo.Path,
            ["branch"] = "main",
            ["entry_point"] = "app/App.csproj",
        }, "q");

        var task = await TestTasks.WaitFinishedAsync(client, id, TimeSpan.FromMinutes(3));

        var console = await TestTasks.ConsoleAsync(client, id);
        Assert.True(task.Status == "completed", console);
        Assert.Contains($"dotnet project ran for {id}", console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Abort_while_the_environment_is_being_built_stops_the_task_and_the_build()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        // An "interpreter" whose venv creation never ends, and which says where it runs.
        var work = Path.Combine(Path.GetTempPath(), "slipway-slow-python-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        var pidFile = Path.Combine(work, "pid");
        var python = Path.Combine(work, "python");
        await File.WriteAllTextAsync(python, $"#!/bin/bash\necho $$ > {pidFile}.tmp; mv {pidFile}.tmp {pidFile}\nexec sleep 300\n");
        if (OperatingSystem.IsWindows())
            return;
        File.SetUnixFileMode(python, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var options = RunningAgent.DefaultOptions("q");
        options.Python = python;
        await using var agent = new RunningAgent(server, options);
        var id = await TestTasks.CreateAsync(client, "slow-env", new JsonObject
        {
            ["binary"] = "python3", ["entry_point"] = "main.py", ["diff"] = "print('never')\n",
            ["requirements"] = new JsonObject { ["pip"] = "something==1.0\n" },
        }, "q");
        await TestTasks.WaitForFileAsync(pidFile);
        await TestTasks.WaitUntilAsync(client, id, t => t.Status == "in_progress");

        await client.Tasks.AbortAsync(id);
        var task = await TestTasks.WaitFinishedAsync(client, id);

        Assert.Equal("stopped", task.Status);
        Assert.Equal("user abort", task.StatusReason);
        Assert.False(TestTasks.ProcessAlive(int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture)), "the environment build is still running");
        Directory.Delete(work, recursive: true);
    }
}
