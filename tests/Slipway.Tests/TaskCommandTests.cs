using System.Text.Json.Nodes;
using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

public sealed class TaskCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task List_shows_each_task_with_its_name_and_status_in_aligned_columns()
    {
        var project = CliServer.Unique("list");
        var projectId = await server.CreateProjectAsync(project);
        var draft = await server.CreateTaskAsync("draft-run", projectId);
        var running = await server.CreateTaskAsync("running-run", projectId);
        await server.StartTaskAsync(running);

        var run = (await server.RunAsync("task", "list", "--project", project)).Ok();

        var lines = run.Out.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        var header = lines[0];
        Assert.StartsWith("ID", header, StringComparison.Ordinal);
        var draftLine = Assert.Single(lines, l => l.StartsWith(draft, StringComparison.Ordinal));
        var runningLine = Assert.Single(lines, l => l.StartsWith(running, StringComparison.Ordinal));
        Assert.Contains("draft-run", draftLine, StringComparison.Ordinal);
        Assert.Contains("running-run", runningLine, StringComparison.Ordinal);
        var statusColumn = header.IndexOf("STATUS", StringComparison.Ordinal);
        Assert.Equal("created", draftLine[statusColumn..].Split(' ')[0]);
        Assert.Equal("in_progress", runningLine[statusColumn..].Split(' ')[0]);
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task List_json_is_an_array_of_tasks_with_full_ids_and_project_names()
    {
        var project = CliServer.Unique("json");
        var projectId = await server.CreateProjectAsync(project);
        var id = await server.CreateTaskAsync("json-run", projectId);

        var tasks = (await server.RunAsync("task", "list", "--project", project, "--json")).Json().AsArray();

        var task = Assert.Single(tasks)!;
        Assert.Equal(id, task["id"]!.GetValue<string>());
        Assert.Equal("json-run", task["name"]!.GetValue<string>());
        Assert.Equal("created", task["status"]!.GetValue<string>());
        Assert.Equal(projectId, task["project"]!.GetValue<string>());
        Assert.Equal(project, task["project_name"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_filters_by_status_and_name_and_shows_archived_tasks_only_with_all()
    {
        var project = CliServer.Unique("filters");
        var projectId = await server.CreateProjectAsync(project);
        var draft = await server.CreateTaskAsync("alpha", projectId);
        var running = await server.CreateTaskAsync("beta", projectId);
        await server.StartTaskAsync(running);
        var archived = await server.CreateTaskAsync("gamma", projectId);
        await server.Client.Tasks.ArchiveAsync([archived]);

        static IEnumerable<string> Ids(CliRun run) => run.Json().AsArray().Select(t => t!["id"]!.GetValue<string>());
        Assert.Equal([running], Ids(await server.RunAsync("task", "list", "--project", project, "--status", "in_progress", "--json")));
        Assert.Equal([draft], Ids(await server.RunAsync("task", "list", "--project", project, "--name", "^al", "--json")));
        Assert.DoesNotContain(archived, Ids(await server.RunAsync("task", "list", "--project", project, "--json")));
        Assert.Contains(archived, Ids(await server.RunAsync("task", "list", "--project", project, "--all", "--json")));
    }

    [Fact]
    public async Task List_leaves_out_dataset_versions_unless_asked()
    {
        var project = CliServer.Unique("with-data");
        var projectId = await server.CreateProjectAsync(project);
        var training = await server.CreateTaskAsync("train", projectId);
        var version = await server.Client.Datasets.CreateAsync(project, "images");

        static IEnumerable<string> Ids(CliRun run) => run.Json().AsArray().Select(t => t!["id"]!.GetValue<string>());
        var all = Ids(await server.RunAsync("task", "list", "--json")).ToList();
        Assert.Contains(training, all);
        Assert.DoesNotContain(version.Id, all);
        Assert.Contains(version.Id, Ids(await server.RunAsync("task", "list", "--datasets", "--json")));
    }

    [Fact]
    public async Task Show_prints_the_code_reference_and_parameters_and_json_has_them_too()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("show-run", projectId, new Dictionary<string, string> { ["Args/lr"] = "0.1", ["Args/epochs"] = "10" });

        var text = (await server.RunAsync("task", "show", id)).Ok().Out;
        Assert.Contains(id, text, StringComparison.Ordinal);
        Assert.Contains("https://example.com/repo.git", text, StringComparison.Ordinal);
        Assert.Matches(@"Args/lr\s+0\.1", text);

        var json = (await server.RunAsync("task", "show", id, "--json")).Json();
        Assert.Equal("0.1", json["parameters"]!["Args/lr"]!.GetValue<string>());
        Assert.Equal("main", json["code"]!["branch"]!.GetValue<string>());
    }

    [Fact]
    public async Task Log_prints_the_console_lines_in_order()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("log-run", projectId);
        await server.LogAsync(id, "epoch 1", "epoch 2");

        var run = (await server.RunAsync("task", "log", id)).Ok();
        Assert.Equal("epoch 1\nepoch 2\n", run.Out);

        var lines = (await server.RunAsync("task", "log", id, "--json")).Ok().Out.TrimEnd('\n').Split('\n');
        Assert.Equal(["epoch 1", "epoch 2"], lines.Select(l => JsonNode.Parse(l)!["message"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Log_shows_a_redrawn_progress_bar_as_its_last_drawing_and_json_keeps_what_was_written()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("tqdm-run", projectId);
        await server.LogAsync(id, "  0%|\r 50%|#####\r100%|##########\ndone", "crlf line\r");

        Assert.Equal("100%|##########\ndone\ncrlf line\n", (await server.RunAsync("task", "log", id)).Ok().Out);
        var first = JsonNode.Parse((await server.RunAsync("task", "log", id, "--json")).Ok().Out.Split('\n')[0])!;
        Assert.Equal("  0%|\r 50%|#####\r100%|##########\ndone", first["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Log_follow_keeps_printing_until_the_task_finishes()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("follow-run", projectId);
        await server.StartTaskAsync(id);
        await server.LogAsync(id, "first line");
        using var output = new SyncWriter();
        using var error = new StringWriter();

        var follow = Cli.RunAsync(["task", "log", id, "--follow", "--conf", server.ConfFile], output, error);
        await output.WaitForAsync("first line\n");
        Assert.False(follow.IsCompleted, "follow ended while the task was still running");
        await server.LogAsync(id, "last line");
        await server.CompleteTaskAsync(id);

        Assert.Equal(0, await follow);
        Assert.Equal("first line\nlast line\n", output.ToString());
    }

    [Fact]
    public async Task Clone_with_params_and_code_changes_makes_a_draft_with_them()
    {
        var projectId = await server.CreateProjectAsync();
        var source = await server.CreateTaskAsync("source", projectId, new Dictionary<string, string> { ["Args/lr"] = "0.1", ["Args/epochs"] = "10" });

        var json = (await server.RunAsync("task", "clone", source, "--name", "lower-lr", "--param", "Args/lr=0.01", "--param", "batch=64",
            "--branch", "experiment", "--json")).Json();

        var clone = await server.Client.Tasks.GetAsync(json["id"]!.GetValue<string>());
        Assert.NotEqual(source, clone.Id);
        Assert.Equal("lower-lr", clone.Name);
        Assert.Equal("created", clone.Status);
        Assert.Equal(source, clone.Parent);
        Assert.Equal("0.01", clone.Parameters["Args/lr"]);
        Assert.Equal("10", clone.Parameters["Args/epochs"]);
        Assert.Equal("64", clone.Parameters["General/batch"]);
        Assert.Equal("experiment", clone.Code.Branch);
        Assert.Equal("https://example.com/repo.git", clone.Code.Repository);
        Assert.Equal("0.1", (await server.Client.Tasks.GetAsync(source)).Parameters["Args/lr"]);
    }

    [Fact]
    public async Task Clone_prints_only_the_new_id_and_enqueue_puts_the_clone_in_the_queue()
    {
        var projectId = await server.CreateProjectAsync();
        var source = await server.CreateTaskAsync("to-clone", projectId);
        var queue = CliServer.Unique("queue");
        await server.Client.Queues.CreateAsync(queue);

        var run = (await server.RunAsync("task", "clone", source, "--enqueue", queue)).Ok();

        var id = run.Out.Trim();
        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.Equal([id], (await server.Client.Queues.FindAsync(queue))!.Entries);
        Assert.Equal("queued", (await server.Client.Tasks.GetAsync(id)).Status);
    }

    [Fact]
    public async Task Enqueue_puts_a_draft_in_the_named_queue()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("to-enqueue", projectId);
        var queue = CliServer.Unique("queue");
        await server.Client.Queues.CreateAsync(queue);

        var json = (await server.RunAsync("task", "enqueue", id, "--queue", queue, "--json")).Json();

        Assert.Equal("queued", json["status"]!.GetValue<string>());
        Assert.Equal([id], (await server.Client.Queues.FindAsync(queue))!.Entries);
    }

    [Fact]
    public async Task Enqueue_to_an_unknown_queue_fails_and_creates_no_queue()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("no-queue", projectId);
        var queue = CliServer.Unique("missing");

        var run = await server.RunAsync("task", "enqueue", id, "--queue", queue);

        Assert.Equal(ExitCodes.Failed, run.Exit);
        Assert.Contains($"no queue named '{queue}'", run.Error, StringComparison.Ordinal);
        Assert.Null(await server.Client.Queues.FindAsync(queue));
        Assert.Equal("created", (await server.Client.Tasks.GetAsync(id)).Status);
    }

    [Fact]
    public async Task Abort_stops_a_running_task()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("to-abort", projectId);
        await server.StartTaskAsync(id);

        var json = (await server.RunAsync("task", "abort", id, "--json")).Json();

        Assert.Equal("stopped", json["status"]!.GetValue<string>());
        Assert.Equal("stopped", (await server.Client.Tasks.GetAsync(id)).Status);
    }

    [Fact]
    public async Task Reset_takes_a_queued_task_back_to_draft_and_out_of_its_queue()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("to-reset", projectId);
        var queue = CliServer.Unique("queue");
        await server.Client.Queues.CreateAsync(queue);
        await server.Client.Tasks.EnqueueAsync(id, queue);

        var run = (await server.RunAsync("task", "reset", id)).Ok();

        Assert.Contains(id, run.Out, StringComparison.Ordinal);
        Assert.Equal("created", (await server.Client.Tasks.GetAsync(id)).Status);
        Assert.Empty((await server.Client.Queues.FindAsync(queue))!.Entries);
    }

    [Theory]
    [InlineData("show")]
    [InlineData("log")]
    [InlineData("abort")]
    [InlineData("reset")]
    [InlineData("clone")]
    public async Task An_unknown_id_exits_1_with_one_clear_line(string command)
    {
        var run = await server.RunAsync("task", command, "no-such-task");

        Assert.Equal(ExitCodes.Failed, run.Exit);
        Assert.Equal("", run.Out);
        var line = Assert.Single(run.Error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"slipway task {command}: ", line, StringComparison.Ordinal);
        Assert.Contains("Invalid task id (id=no-such-task)", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("task", "list", "--status", "sleeping")]
    [InlineData("task", "list", "--limit", "0")]
    [InlineData("task", "list", "--name", "(unclosed")]
    [InlineData("task", "list", "--no-such-option")]
    [InlineData("task", "show")]
    [InlineData("task", "frobnicate")]
    [InlineData("task")]
    public async Task Bad_usage_exits_2_and_points_at_help(params string[] args)
    {
        var run = await CliRun.RunAsync(args);

        Assert.Equal(ExitCodes.Usage, run.Exit);
        Assert.Equal("", run.Out);
        Assert.Contains("--help", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_param_without_a_value_is_a_usage_error_and_nothing_is_cloned()
    {
        var projectId = await server.CreateProjectAsync();
        var source = await server.CreateTaskAsync("bad-param", projectId);

        var run = await server.RunAsync("task", "clone", source, "--param", "Args/lr");

        Assert.Equal(ExitCodes.Usage, run.Exit);
        Assert.Contains("Section/name=value", run.Error, StringComparison.Ordinal);
        Assert.Equal([source], (await server.Client.Tasks.ListAsync(new Client.TaskFilter { ProjectId = projectId })).Select(t => t.Id));
    }
}
