using System.Text.Json.Nodes;
using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

/// <summary>`slipway task delete|archive|tag|publish` and `slipway worker list`, against a real server.</summary>
public sealed class TaskTidyCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Delete_removes_several_tasks_and_says_which()
    {
        var projectId = await server.CreateProjectAsync();
        var first = await server.CreateTaskAsync("first-to-go", projectId);
        var second = await server.CreateTaskAsync("second-to-go", projectId);

        var text = (await server.RunAsync("task", "delete", first, second)).Ok().Out;

        Assert.Contains($"Deleted {first} (first-to-go, created).", text, StringComparison.Ordinal);
        Assert.Contains($"Deleted {second} (second-to-go, created).", text, StringComparison.Ordinal);
        Assert.Empty(await server.Client.Tasks.ListAsync(new Client.TaskFilter { Ids = [first, second], IncludeArchived = true }));
    }

    [Fact]
    public async Task Delete_refuses_a_running_or_published_task_without_force_and_deletes_nothing()
    {
        var projectId = await server.CreateProjectAsync();
        var draft = await server.CreateTaskAsync("draft", projectId);
        var running = await server.CreateTaskAsync("running", projectId);
        await server.StartTaskAsync(running);

        var refused = await server.RunAsync("task", "delete", draft, running);

        Assert.Equal(ExitCodes.Failed, refused.Exit);
        Assert.Contains($"{running} is in_progress: nothing was deleted", refused.Error, StringComparison.Ordinal);
        Assert.Equal(2, (await server.Client.Tasks.ListAsync(new Client.TaskFilter { Ids = [draft, running] })).Count);

        var json = (await server.RunAsync("task", "delete", draft, running, "--force", "--json")).Json().AsArray();
        Assert.Equal([draft, running], json.Select(t => t!["id"]!.GetValue<string>()));
        Assert.Empty(await server.Client.Tasks.ListAsync(new Client.TaskFilter { Ids = [draft, running], IncludeArchived = true }));
    }

    [Fact]
    public async Task Publish_marks_a_completed_task_published_and_delete_then_needs_force()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("to-publish", projectId);
        await server.StartTaskAsync(id);
        await server.CompleteTaskAsync(id);

        var text = (await server.RunAsync("task", "publish", id)).Ok().Out;

        Assert.Equal($"Published {id} (published).", text.Trim());
        Assert.Equal("published", (await server.Client.Tasks.GetAsync(id)).Status);
        var refused = await server.RunAsync("task", "delete", id);
        Assert.Equal(ExitCodes.Failed, refused.Exit);
        Assert.Contains("published", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Archive_hides_tasks_and_restore_brings_them_back()
    {
        var projectId = await server.CreateProjectAsync();
        var first = await server.CreateTaskAsync("a", projectId);
        var second = await server.CreateTaskAsync("b", projectId);

        (await server.RunAsync("task", "archive", first, second)).Ok();
        Assert.Empty(await server.Client.Tasks.ListAsync(new Client.TaskFilter { ProjectId = projectId }));

        var json = (await server.RunAsync("task", "archive", first, "--restore", "--json")).Json().AsArray();
        Assert.False(json.Single()!["archived"]!.GetValue<bool>());
        var visible = await server.Client.Tasks.ListAsync(new Client.TaskFilter { ProjectId = projectId });
        Assert.Equal([first], visible.Select(t => t.Id));
    }

    [Fact]
    public async Task Tag_adds_and_removes_tags_and_prints_the_result()
    {
        var projectId = await server.CreateProjectAsync();
        var id = await server.CreateTaskAsync("tagged", projectId);
        (await server.RunAsync("task", "tag", id, "--add", "baseline", "old")).Ok();

        var text = (await server.RunAsync("task", "tag", id, "--add", "best", "--remove", "old")).Ok().Out;

        Assert.Equal($"{id} tags: baseline, best", text.Trim());
        Assert.Equal(["baseline", "best"], (await server.Client.Tasks.GetAsync(id)).Tags);
        var usage = await server.RunAsync("task", "tag", id);
        Assert.Equal(ExitCodes.Usage, usage.Exit);
    }

    [Fact]
    public async Task Worker_list_shows_a_registered_worker_with_its_queue_task_and_machine_load()
    {
        var queue = CliServer.Unique("q");
        var queueId = await server.Client.Queues.CreateAsync(queue);
        var projectId = await server.CreateProjectAsync();
        var taskId = await server.CreateTaskAsync("worked-on", projectId);
        var worker = CliServer.Unique("worker");
        await server.Client.CallAsync("workers.register", new JsonObject { ["worker"] = worker, ["queues"] = new JsonArray(queueId) });
        await server.Client.CallAsync("workers.status_report", new JsonObject
        {
            ["worker"] = worker, ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ["task"] = taskId,
            ["machine_stats"] = new JsonObject
            {
                ["cpu_usage"] = new JsonArray(30, 50), ["memory_used"] = 2048, ["memory_free"] = 6144,
                ["gpu_usage"] = new JsonArray(10, 90), ["gpu_memory_used"] = new JsonArray(1024, 3072), ["gpu_memory_free"] = new JsonArray(1024, 1024),
            },
        });
        var bare = CliServer.Unique("bare");
        await server.Client.CallAsync("workers.register", new JsonObject { ["worker"] = bare, ["queues"] = new JsonArray(queueId) });

        var text = (await server.RunAsync("worker", "list")).Ok().Out;
        var row = Assert.Single(text.Split('\n'), l => l.StartsWith(worker + " ", StringComparison.Ordinal));
        Assert.Matches($@"^{worker}\s+{queue}\s+{taskId}\s+worked-on\s+40%\s+2\.0/8\.0 GB\s+2× 50%, 2\.0/3\.0 GB\s+just now", row);
        var bareRow = Assert.Single(text.Split('\n'), l => l.StartsWith(bare + " ", StringComparison.Ordinal));
        Assert.Matches($@"^{bare}\s+{queue}\s+-\s+-\s+-\s+-\s+-\s+just now", bareRow);

        var json = (await server.RunAsync("worker", "list", "--json")).Json().AsArray().Single(w => w!["id"]!.GetValue<string>() == worker)!;
        Assert.Equal(taskId, json["task"]!.GetValue<string>());
        Assert.Equal("worked-on", json["task_name"]!.GetValue<string>());
        Assert.Equal([queue], json["queues"]!.AsArray().Select(q => q!.GetValue<string>()));
        Assert.Equal(40, json["machine"]!["cpu_percent"]!.GetValue<double>());
        Assert.Equal(8192, json["machine"]!["memory_total_mb"]!.GetValue<double>());
        Assert.Equal([90.0, 4096.0], json["machine"]!["gpus"]!.AsArray()[1] is { } gpu ? [gpu["usage_percent"]!.GetValue<double>(), gpu["memory_total_mb"]!.GetValue<double>()] : []);
    }
}
