using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>The official SDK's request sequences (spec §2a and §2e) replayed with the same bodies and field types.</summary>
public abstract class SdkFlowTests(string engine) : ServerTests(engine)
{
    [Fact]
    public async Task Task_init_report_and_close_round_trips_through_the_sdk_getters()
    {
        var projects = await Api.OkAsync("projects.get_all", new JsonObject
        {
            ["name"] = "^proj1$", ["only_fields"] = new JsonArray("id"), ["search_hidden"] = true, ["shallow_search"] = false,
        });
        Assert.Empty(projects["projects"]!.AsArray());
        var project = (await Api.OkAsync("projects.create", new JsonObject { ["name"] = "proj1", ["description"] = "" }))["id"]!.GetValue<string>();
        var task = (await Api.OkAsync("tasks.create", new JsonObject
        {
            ["name"] = "exp1", ["type"] = "training", ["system_tags"] = new JsonArray("development"), ["project"] = project,
            ["comment"] = "Auto-generated at 2026-11-26 by user@host",
        }))["id"]!.GetValue<string>();
        var created = await GetTaskAsync(task);
        Assert.Equal("created", created["status"]!.GetValue<string>());
        Assert.Equal(["development"], created["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$", created["created"]!.GetValue<string>());
        Assert.IsType<JsonArray>(created["models"]!["input"]);
        Assert.IsType<JsonArray>(created["execution"]!["artifacts"]);

        var started = await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task, ["force"] = false });
        Assert.Equal("in_progress", started["fields"]!["status"]!.GetValue<string>());
        Assert.Equal("proj1", (await Api.OkAsync("projects.get_by_id", new JsonObject { ["project"] = project }))["project"]!["name"]!.GetValue<string>());
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = task, ["force"] = true,
            ["script"] = new JsonObject
            {
                ["binary"] = "python3.11", ["repository"] = "https://example.invalid/repo.git", ["branch"] = "main", ["version_num"] = "abc123",
                ["entry_point"] = "train.py", ["working_dir"] = "src", ["diff"] = "diff --git a/train.py b/train.py\n",
            },
        });
        await Api.OkAsync("tasks.set_requirements", new JsonObject
        {
            ["task"] = task, ["requirements"] = new JsonObject { ["pip"] = "clearml == 1.17.0\n", ["conda"] = "" },
        });
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = task, ["force"] = true,
            ["hyperparams"] = new JsonObject
            {
                ["Args"] = new JsonObject { ["lr"] = Param("Args", "lr", "0.1", "float") },
                ["General"] = new JsonObject { ["batch"] = Param("General", "batch", "32", "int") },
            },
        });
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = task, ["force"] = true,
            ["configuration"] = new JsonObject { ["model_cfg"] = new JsonObject { ["name"] = "model_cfg", ["value"] = "layers = [1, 2, 3]", ["type"] = "dictionary" } },
        });
        var batch = Enumerable.Range(0, 20).Select(i => Scalar(task, "loss", "train", i, 1.0 / (i + 1)))
            .Append(new JsonObject { ["type"] = "log", ["task"] = task, ["level"] = "info", ["worker"] = "host", ["msg"] = "epoch 1\nepoch 2", ["timestamp"] = 1_700_000_000_500 })
            .Append(new JsonObject { ["type"] = "plot", ["task"] = task, ["iter"] = 3, ["metric"] = "confusion", ["variant"] = "matrix", ["plot_str"] = """{"data":[{"type":"heatmap"}]}""" })
            .Append(Scalar(task, "Summary", "accuracy", int.MinValue, 0.93));
        var added = (await Api.AddBatchAsync(batch)).Data;
        Assert.Equal(23, added["added"]!.GetValue<int>());
        Assert.Equal(0, added["errors"]!.GetValue<int>());

        var polled = await Api.OkAsync("tasks.get_all", new JsonObject
        {
            ["id"] = new JsonArray(task), ["only_fields"] = new JsonArray("status", "status_message", "id"), ["search_hidden"] = false,
        });
        Assert.Equal(new JsonObject { ["id"] = task, ["status"] = "in_progress", ["status_message"] = "" }.ToJsonString(), polled["tasks"]![0]!.ToJsonString());
        await Api.OkAsync("tasks.ping", new JsonObject { ["task"] = task });
        await Api.OkAsync("tasks.edit", new JsonObject { ["task"] = task, ["force"] = true, ["runtime"] = new JsonObject { ["progress"] = "100" } });
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = task, ["force"] = false, ["status_reason"] = "completed", ["publish"] = false });

        var done = await GetTaskAsync(task);
        Assert.Equal("completed", done["status"]!.GetValue<string>());
        Assert.Equal("python3.11", done["script"]!["binary"]!.GetValue<string>());
        Assert.Equal("clearml == 1.17.0\n", done["script"]!["requirements"]!["pip"]!.GetValue<string>());
        Assert.Equal("0.1", done["hyperparams"]!["Args"]!["lr"]!["value"]!.GetValue<string>());
        Assert.Equal("layers = [1, 2, 3]", done["configuration"]!["model_cfg"]!["value"]!.GetValue<string>());
        Assert.Equal(19, done["last_iteration"]!.GetValue<long>());
        var loss = done["last_metrics"]!.AsObject().Select(m => m.Value!.AsObject()).SelectMany(v => v.Select(x => x.Value!))
            .Single(m => m["metric"]!.GetValue<string>() == "loss");
        Assert.Equal(1.0 / 20, loss["value"]!.GetValue<double>(), 9);
        Assert.Equal(1.0, loss["max_value"]!.GetValue<double>());
        Assert.Equal(0, loss["max_value_iteration"]!.GetValue<long>());

        // What get_reported_scalars / console output / plots / single values ask for.
        var scalars = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task, ["key"] = "iter", ["model_events"] = false });
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), scalars["loss"]!["train"]!["x"]!.AsArray().Select(x => x!.GetValue<long>()));
        Assert.Equal("train", scalars["loss"]!["train"]!["name"]!.GetValue<string>());
        var log = await Api.OkAsync("events.get_task_log", new JsonObject { ["task"] = task, ["batch_size"] = 10, ["navigate_earlier"] = true, ["order"] = "asc" });
        Assert.Equal("epoch 1\nepoch 2", log["events"]![0]!["msg"]!.GetValue<string>());
        var plots = await Api.OkAsync("events.get_task_plots", new JsonObject { ["task"] = task, ["iters"] = 1, ["no_scroll"] = true, ["model_events"] = false });
        Assert.Equal("confusion", plots["plots"]![0]!["metric"]!.GetValue<string>());
        var single = await Api.OkAsync("events.get_task_single_value_metrics", new JsonObject { ["tasks"] = new JsonArray(task), ["model_events"] = false });
        Assert.Equal(0.93, single["tasks"]![0]!["values"]![0]!["value"]!.GetValue<double>());
    }

    [Fact]
    public async Task A_reused_task_is_reset_and_edited_back_to_a_clean_development_task()
    {
        var task = await CreateTaskAsync("exp", extra: new JsonObject { ["system_tags"] = new JsonArray("development") });
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task, ["force"] = false });
        await Api.AddBatchAsync([Scalar(task, "loss", "train", 5, 0.5)]);
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = task, ["force"] = false, ["status_reason"] = "completed", ["publish"] = false });

        await Api.OkAsync("tasks.reset", new JsonObject { ["task"] = task, ["force"] = false, ["clear_all"] = false, ["delete_external_artifacts"] = true });
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = task, ["force"] = true, ["system_tags"] = new JsonArray("development"), ["comment"] = "again", ["output_dest"] = "",
            ["execution"] = new JsonObject { ["parameters"] = new JsonObject(), ["model_desc"] = new JsonObject(), ["model_labels"] = new JsonObject(), ["artifacts"] = new JsonArray() },
            ["script"] = new JsonObject(), ["hyperparams"] = new JsonObject(), ["configuration"] = new JsonObject(), ["container"] = new JsonObject(),
            ["models"] = new JsonObject { ["input"] = new JsonArray(), ["output"] = new JsonArray() },
        });
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task, ["force"] = false });

        var reused = await GetTaskAsync(task);
        Assert.Equal("in_progress", reused["status"]!.GetValue<string>());
        Assert.Equal(0, reused["last_iteration"]!.GetValue<long>());
        Assert.Empty(reused["last_metrics"]!.AsObject());
        var scalars = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task });
        Assert.Empty(scalars);
    }

    [Fact]
    public async Task Clone_then_enqueue_by_queue_name_follows_the_sdk_fallback()
    {
        var source = await CreateTaskAsync("exp", extra: new JsonObject
        {
            ["system_tags"] = new JsonArray("development", "keep"),
            ["hyperparams"] = new JsonObject { ["Args"] = new JsonObject { ["lr"] = Param("Args", "lr", "0.1", "float") } },
            ["execution"] = new JsonObject
            {
                ["artifacts"] = new JsonArray(
                    new JsonObject { ["key"] = "in", ["type"] = "custom", ["mode"] = "input", ["uri"] = "s3://b/in" },
                    new JsonObject { ["key"] = "out", ["type"] = "custom", ["mode"] = "output", ["uri"] = "s3://b/out" }),
            },
        });
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = source });
        await Api.AddBatchAsync([Scalar(source, "loss", "train", 1, 0.5)]);
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = source });

        var clone = (await Api.OkAsync("tasks.clone", new JsonObject { ["task"] = source, ["new_task_name"] = "cloned-exp", ["new_task_parent"] = source }))["id"]!.GetValue<string>();
        var cloned = await GetTaskAsync(clone);
        Assert.Equal("created", cloned["status"]!.GetValue<string>());
        Assert.Equal("cloned-exp", cloned["name"]!.GetValue<string>());
        Assert.Equal(source, cloned["parent"]!.GetValue<string>());
        Assert.Equal(["keep"], cloned["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("0.1", cloned["hyperparams"]!["Args"]!["lr"]!["value"]!.GetValue<string>());
        Assert.Equal(["in"], cloned["execution"]!["artifacts"]!.AsArray().Select(a => a!["key"]!.GetValue<string>()));
        Assert.Empty(cloned["last_metrics"]!.AsObject());

        var byName = await Api.CallAsync("queues.get_by_id", new JsonObject { ["queue"] = "default" });
        Assert.Equal((400, 701), (byName.Status, byName.Subcode));
        Assert.Equal("{}", byName.Envelope["data"]!.ToJsonString());
        var queues = await Api.OkAsync("queues.get_all", new JsonObject { ["name"] = "^default$", ["only_fields"] = new JsonArray("id"), ["search_hidden"] = false });
        var queue = queues["queues"]![0]!["id"]!.GetValue<string>();
        var enqueued = await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = clone, ["queue"] = queue, ["verify_watched_queue"] = false });
        Assert.Equal(1, enqueued["queued"]!.GetValue<int>());
        Assert.Equal("queued", enqueued["fields"]!["status"]!.GetValue<string>());
        Assert.Equal("created", enqueued["fields"]!["enqueue_status"]!.GetValue<string>());
        Assert.Equal(queue, enqueued["fields"]!["execution.queue"]!.GetValue<string>());
        Assert.Equal(queue, (await GetTaskAsync(clone))["execution"]!["queue"]!.GetValue<string>());
        Assert.Equal(1, (await Api.OkAsync("queues.get_num_entries", new JsonObject { ["queue"] = queue }))["num"]!.GetValue<int>());
    }

    private static JsonObject Param(string section, string name, string value, string type) => new()
    {
        ["section"] = section, ["name"] = name, ["value"] = value, ["type"] = type, ["description"] = "",
    };
}

public sealed class SdkFlowTestsOnSqlite() : SdkFlowTests("sqlite");

public sealed class SdkFlowTestsOnPostgres() : SdkFlowTests("postgres");
