using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public abstract class ModelsTests(string engine) : ServerTests(engine)
{
    /// <summary>Spec flow 2b: OutputModel.update_weights with output_uri, then models["output"][-1].get_local_copy().</summary>
    [Fact]
    public async Task Output_model_registration_upload_and_read_back_follow_the_sdk()
    {
        var project = await CreateProjectAsync("proj1");
        var task = await CreateTaskAsync("exp", project);
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        var files = Server.Server.FilesUrl.ToString().TrimEnd('/');
        await Api.OkAsync("tasks.edit", new JsonObject { ["task"] = task, ["force"] = true, ["output_dest"] = files });

        var model = (await Api.OkAsync("models.create", new JsonObject
        {
            ["uri"] = files + "/uploading_file", ["name"] = "Anonymous model", ["labels"] = new JsonObject(), ["ready"] = false, ["public"] = false, ["project"] = project,
        }))["id"]!.GetValue<string>();
        Assert.False((await Api.OkAsync("models.get_by_id", new JsonObject { ["model"] = model }))["model"]!["ready"]!.GetValue<bool>());
        await Api.OkAsync("models.edit", new JsonObject
        {
            ["model"] = model, ["uri"] = files + "/uploading_file", ["name"] = "my-model", ["comment"] = $"Created by task id: {task}", ["tags"] = new JsonArray(),
            ["system_tags"] = new JsonArray(), ["framework"] = "PyTorch", ["design"] = new JsonObject { ["design"] = "" }, ["labels"] = new JsonObject { ["cat"] = 1 },
            ["project"] = project, ["task"] = task,
        });
        await Api.OkAsync("tasks.add_or_update_model", new JsonObject { ["task"] = task, ["name"] = "weights", ["model"] = model, ["type"] = "output" });

        var weights = RandomNumberGenerator.GetBytes(100_000);
        const string path = "/proj1/exp.T/models/weights.bin";
        using (var http = new HttpClient { BaseAddress = Server.Server.FilesUrl })
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Api.Token);
            var form = new MultipartFormDataContent { { new ByteArrayContent(weights), path, path } };
            Assert.True((await http.PostAsync("/", form)).IsSuccessStatusCode);
        }
        await Api.OkAsync("models.edit", new JsonObject { ["model"] = model, ["uri"] = files + path, ["comment"] = "snapshot weights.bin stored", ["iteration"] = 5 });

        var taskDoc = await GetTaskAsync(task);
        Assert.Equal(model, taskDoc["models"]!["output"]![0]!["model"]!.GetValue<string>());
        var byTask = await Api.OkAsync("models.get_all", new JsonObject { ["task"] = new JsonArray(task), ["order_by"] = new JsonArray("created"), ["only_fields"] = new JsonArray("id") });
        Assert.Equal($$"""[{"id":"{{model}}"}]""", byTask["models"]!.ToJsonString());
        var stored = (await Api.OkAsync("models.get_by_id", new JsonObject { ["model"] = model }))["model"]!;
        Assert.Equal(("my-model", "PyTorch", task, 5L, 1L), (stored["name"]!.GetValue<string>(), stored["framework"]!.GetValue<string>(),
            stored["task"]!.GetValue<string>(), stored["last_iteration"]!.GetValue<long>(), stored["labels"]!["cat"]!.GetValue<long>()));
        using var download = new HttpClient();
        download.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Api.Token);
        Assert.Equal(weights, await download.GetByteArrayAsync(stored["uri"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_field_set_to_null_is_answered_as_null_and_a_field_never_set_is_absent()
    {
        var model = (await Api.OkAsync("models.create", new JsonObject { ["uri"] = "s3://b/m.onnx", ["name"] = "m", ["parent"] = null }))["id"]!.GetValue<string>();
        await Api.OkAsync("models.edit", new JsonObject { ["model"] = model, ["framework"] = null, ["comment"] = "edited" });

        var stored = (await Api.OkAsync("models.get_by_id", new JsonObject { ["model"] = model }))["model"]!.AsObject();
        Assert.True(stored.ContainsKey("parent") && stored["parent"] is null, stored.ToJsonString());
        Assert.True(stored.ContainsKey("framework") && stored["framework"] is null, stored.ToJsonString());
        Assert.False(stored.ContainsKey("task"), stored.ToJsonString());
        Assert.Equal("edited", stored["comment"]!.GetValue<string>());
    }

    [Fact]
    public async Task Publishing_a_model_publishes_its_task_and_protects_it_from_deletion()
    {
        var task = await CreateTaskAsync("exp");
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = task });
        var model = (await Api.OkAsync("models.create", new JsonObject { ["uri"] = "s3://b/m.pt", ["name"] = "m", ["task"] = task }))["id"]!.GetValue<string>();
        var ready = await Api.OkAsync("models.set_ready", new JsonObject { ["model"] = model });
        Assert.Equal(task, ready["published_task"]!["id"]!.GetValue<string>());
        Assert.Equal("published", (await GetTaskAsync(task))["status"]!.GetValue<string>());
        Assert.Single((await Api.OkAsync("models.get_all", new JsonObject { ["ready"] = true }))["models"]!.AsArray());
        Assert.Empty((await Api.OkAsync("models.get_all", new JsonObject { ["ready"] = false }))["models"]!.AsArray());

        var moved = await Api.CallAsync("models.edit", new JsonObject { ["model"] = model, ["uri"] = "s3://elsewhere" });
        Assert.Equal(400, moved.Status);
        var refused = await Api.CallAsync("models.delete", new JsonObject { ["model"] = model });
        Assert.Equal((400, 202), (refused.Status, refused.Subcode));
        Assert.Equal("s3://b/m.pt", (await Api.OkAsync("models.delete", new JsonObject { ["model"] = model, ["force"] = true }))["url"]!.GetValue<string>());
        Assert.Equal((400, 201), ((await Api.CallAsync("models.get_by_id", new JsonObject { ["model"] = model })).Status, 201));
    }

    [Fact]
    public async Task Force_publish_task_publishes_a_running_tasks_model_and_the_task()
    {
        var task = await CreateTaskAsync("exp");
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        var model = (await Api.OkAsync("models.create", new JsonObject { ["uri"] = "s3://b/m.pt", ["name"] = "m", ["task"] = task }))["id"]!.GetValue<string>();

        await Api.OkAsync("models.set_ready", new JsonObject { ["model"] = model, ["force_publish_task"] = true });

        Assert.True((await Api.OkAsync("models.get_by_id", new JsonObject { ["model"] = model }))["model"]!["ready"]!.GetValue<bool>());
        Assert.Equal("published", (await GetTaskAsync(task))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Model_events_update_the_models_metrics_and_are_read_with_model_events()
    {
        var model = (await Api.OkAsync("models.create", new JsonObject { ["uri"] = "file:///m", ["name"] = "m" }))["id"]!.GetValue<string>();
        JsonObject Event(long iter, double value) => new()
        {
            ["type"] = "training_stats_scalar", ["task"] = model, ["metric"] = "acc", ["variant"] = "val", ["iter"] = iter, ["value"] = value, ["model_event"] = true,
        };
        var unknown = Scalar("no-such-model", "acc", "val", 1, 1);
        unknown["model_event"] = true;
        var added = (await Api.AddBatchAsync([Event(1, 0.5), Event(2, 0.7), unknown])).Data;
        Assert.Equal((2, 1), (added["added"]!.GetValue<int>(), added["errors"]!.GetValue<int>()));
        Assert.Equal(1, added["errors_info"]!["Invalid model id no-such-model"]!.GetValue<int>());
        var stored = (await Api.OkAsync("models.get_by_id", new JsonObject { ["model"] = model }))["model"]!;
        Assert.Equal(2, stored["last_iteration"]!.GetValue<long>());
        Assert.Equal(0.7, stored["last_metrics"]!.AsObject().Single().Value!.AsObject().Single().Value!["value"]!.GetValue<double>());
        var chart = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = model, ["model_events"] = true });
        Assert.Equal([0.5, 0.7], chart["acc"]!["val"]!["y"]!.AsArray().Select(y => y!.GetValue<double>()));
        Assert.Equal(400, (await Api.CallAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = model })).Status);

        await Api.OkAsync("models.delete", new JsonObject { ["model"] = model });
        Assert.Empty(await Server.Server.Stores.Events.GetSeriesAsync([model]));
    }

    [Fact]
    public async Task Metadata_archive_and_filters_work_as_in_the_registry()
    {
        var project = await CreateProjectAsync("zoo");
        var a = (await Api.OkAsync("models.create", new JsonObject { ["uri"] = "file:///a", ["name"] = "resnet-a", ["framework"] = "PyTorch", ["project"] = project }))["id"]!.GetValue<string>();
        var b = (await Api.OkAsync("models.create", new JsonObject { ["uri"] = "file:///b", ["name"] = "bert-b", ["framework"] = "ONNX", ["project"] = project }))["id"]!.GetValue<string>();
        await Api.OkAsync("models.add_or_update_metadata", new JsonObject
        {
            ["model"] = a, ["metadata"] = new JsonArray(new JsonObject { ["key"] = "accuracy", ["type"] = "float", ["value"] = "0.91" }, new JsonObject { ["key"] = "epochs", ["value"] = 10 }),
        });
        await Api.OkAsync("models.delete_metadata", new JsonObject { ["model"] = a, ["keys"] = new JsonArray("epochs") });
        var meta = (await Api.OkAsync("models.get_by_id", new JsonObject { ["model"] = a }))["model"]!["metadata"]!;
        Assert.Equal("""{"accuracy":{"key":"accuracy","type":"float","value":"0.91"}}""", meta.ToJsonString());

        async Task<string[]> Names(JsonObject query) =>
            (await Api.OkAsync("models.get_all", query))["models"]!.AsArray().Select(m => m!["name"]!.GetValue<string>()).Order().ToArray();
        Assert.Equal(["resnet-a"], await Names(new JsonObject { ["framework"] = new JsonArray("PyTorch") }));
        Assert.Equal(["bert-b"], await Names(new JsonObject { ["name"] = "^bert" }));
        Assert.Equal(["bert-b", "resnet-a"], await Names(new JsonObject { ["project"] = new JsonArray(project) }));
        await Api.OkAsync("models.archive_many", new JsonObject { ["ids"] = new JsonArray(b) });
        Assert.Equal(["resnet-a"], await Names(new JsonObject { ["system_tags"] = new JsonArray("-archived") }));
        var badLabels = await Api.CallAsync("models.create", new JsonObject { ["uri"] = "x", ["name"] = "x", ["labels"] = new JsonObject { ["cat"] = "one" } });
        Assert.Equal(400, badLabels.Status);
        var badTask = await Api.CallAsync("models.create", new JsonObject { ["uri"] = "x", ["name"] = "x", ["task"] = "missing" });
        Assert.Equal((400, 101), (badTask.Status, badTask.Subcode));
    }
}

public sealed class ModelsTestsOnSqlite() : ModelsTests("sqlite");

public sealed class ModelsTestsOnPostgres() : ModelsTests("postgres");
