using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public abstract class TasksTests(string engine) : ServerTests(engine)
{
    [Fact]
    public async Task Illegal_transitions_are_refused_unless_forced()
    {
        var task = await CreateTaskAsync("t");
        var published = await Api.CallAsync("tasks.publish", new JsonObject { ["task"] = task });
        Assert.Equal((400, 110), (published.Status, published.Subcode));
        Assert.Equal("created", (await GetTaskAsync(task))["status"]!.GetValue<string>());
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = task, ["force"] = true });
        await Api.OkAsync("tasks.publish", new JsonObject { ["task"] = task });
        var after = await GetTaskAsync(task);
        Assert.Equal("published", after["status"]!.GetValue<string>());
        Assert.NotNull(after["published"]);
        var reset = await Api.CallAsync("tasks.reset", new JsonObject { ["task"] = task });
        Assert.Equal((400, 110), (reset.Status, reset.Subcode));
    }

    [Fact]
    public async Task A_page_of_get_all_ex_says_how_many_match_and_get_all_does_not()
    {
        for (var i = 0; i < 3; i++)
            await CreateTaskAsync($"paged {i}");
        var page = await Api.OkAsync("tasks.get_all_ex", new JsonObject { ["name"] = "^paged ", ["page"] = 1, ["page_size"] = 2 });
        Assert.Single(page["tasks"]!.AsArray());
        Assert.Equal(3, page["total"]!.GetValue<long>());
        Assert.False(page["total_more"]!.GetValue<bool>());
        var plain = await Api.OkAsync("tasks.get_all", new JsonObject { ["name"] = "^paged ", ["page"] = 0, ["page_size"] = 2 });
        Assert.Null(plain["total"]);
    }

    [Fact]
    public async Task Concurrent_conflicting_status_changes_have_one_winning_status()
    {
        var task = await CreateTaskAsync("race");
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        var endpoints = Enumerable.Range(0, 12).Select(i => i % 2 == 0 ? "tasks.completed" : "tasks.failed").ToList();
        var replies = await Task.WhenAll(endpoints.Select(e => Api.CallAsync(e, new JsonObject { ["task"] = task })));
        var winners = endpoints.Where((_, i) => replies[i].Status == 200).Distinct().ToList();
        var final = (await GetTaskAsync(task))["status"]!.GetValue<string>();
        // completed -> failed and failed -> completed are illegal, so once one lands the other side must lose.
        Assert.Equal("tasks." + final, Assert.Single(winners));
        Assert.All(replies.Where(r => r.Status != 200), r => Assert.True(r.Subcode is 121 or 110, $"{r.Subcode} {r.Message}"));
    }

    [Fact]
    public async Task Edit_merges_embedded_documents_and_replaces_maps()
    {
        var task = await CreateTaskAsync("t", extra: new JsonObject
        {
            ["script"] = new JsonObject { ["repository"] = "r", ["branch"] = "main" },
            ["hyperparams"] = new JsonObject { ["A"] = new JsonObject { ["x"] = new JsonObject { ["section"] = "A", ["name"] = "x", ["value"] = "1" } } },
            ["tags"] = new JsonArray("b", "a"),
        });
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = task,
            ["script"] = new JsonObject { ["branch"] = "dev" },
            ["hyperparams"] = new JsonObject { ["B"] = new JsonObject { ["y"] = new JsonObject { ["section"] = "B", ["name"] = "y", ["value"] = 2 } } },
            ["output_dest"] = "s3://bucket",
        });
        var edited = await GetTaskAsync(task);
        Assert.Equal("r", edited["script"]!["repository"]!.GetValue<string>());
        Assert.Equal("dev", edited["script"]!["branch"]!.GetValue<string>());
        Assert.Null(edited["hyperparams"]!["A"]);
        Assert.Equal("2", edited["hyperparams"]!["B"]!["y"]!["value"]!.GetValue<string>());
        Assert.Equal("s3://bucket", edited["output"]!["destination"]!.GetValue<string>());
        Assert.Equal(["a", "b"], edited["tags"]!.AsArray().Select(t => t!.GetValue<string>()));

        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        var refused = await Api.CallAsync("tasks.edit", new JsonObject { ["task"] = task, ["name"] = "x" });
        Assert.Equal((400, 110), (refused.Status, refused.Subcode));
    }

    [Fact]
    public async Task Hyper_params_and_configuration_endpoints_edit_read_and_delete()
    {
        var task = await CreateTaskAsync("t");
        await Api.OkAsync("tasks.edit_hyper_params", new JsonObject
        {
            ["task"] = task,
            ["hyperparams"] = new JsonArray(
                new JsonObject { ["section"] = "Args", ["name"] = "lr", ["value"] = "0.1", ["type"] = "float" },
                new JsonObject { ["section"] = "Args", ["name"] = "epochs", ["value"] = "3" }),
        });
        await Api.OkAsync("tasks.edit_hyper_params", new JsonObject
        {
            ["task"] = task, ["replace_hyperparams"] = "section",
            ["hyperparams"] = new JsonArray(new JsonObject { ["section"] = "Args", ["name"] = "lr", ["value"] = "0.2" }),
        });
        var got = await Api.OkAsync("tasks.get_hyper_params", new JsonObject { ["tasks"] = new JsonArray(task) });
        Assert.Equal(["lr=0.2"], got["params"]![0]!["hyperparams"]!.AsArray().Select(p => $"{p!["name"]}={p["value"]}"));
        Assert.Equal(1, (await Api.OkAsync("tasks.delete_hyper_params", new JsonObject
        {
            ["task"] = task, ["hyperparams"] = new JsonArray(new JsonObject { ["section"] = "Args", ["name"] = "lr" }),
        }))["deleted"]!.GetValue<int>());

        await Api.OkAsync("tasks.edit_configuration", new JsonObject
        {
            ["task"] = task,
            ["configuration"] = new JsonArray(new JsonObject { ["name"] = "cfg", ["value"] = "a: 1", ["type"] = "yaml" }, new JsonObject { ["name"] = "other", ["value"] = "{}" }),
        });
        var names = await Api.OkAsync("tasks.get_configuration_names", new JsonObject { ["tasks"] = new JsonArray(task) });
        Assert.Equal(["cfg", "other"], names["configurations"]![0]!["names"]!.AsArray().Select(n => n!.GetValue<string>()));
        var configs = await Api.OkAsync("tasks.get_configurations", new JsonObject { ["tasks"] = new JsonArray(task), ["names"] = new JsonArray("cfg") });
        Assert.Equal("a: 1", configs["configurations"]![0]!["configuration"]![0]!["value"]!.GetValue<string>());

        // Properties may change in any status; other sections only while the task is a draft.
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = task });
        await Api.OkAsync("tasks.edit_hyper_params", new JsonObject
        {
            ["task"] = task, ["hyperparams"] = new JsonArray(new JsonObject { ["section"] = "properties", ["name"] = "version", ["value"] = "1.0.0" }),
        });
        var locked = await Api.CallAsync("tasks.edit_hyper_params", new JsonObject
        {
            ["task"] = task, ["hyperparams"] = new JsonArray(new JsonObject { ["section"] = "Args", ["name"] = "lr", ["value"] = "1" }),
        });
        Assert.Equal((400, 110), (locked.Status, locked.Subcode));
    }

    [Fact]
    public async Task Get_all_filters_by_regex_tags_status_and_text_and_projects_dotted_fields()
    {
        var project = await CreateProjectAsync("filters");
        var a = await CreateTaskAsync("alpha-1", project, extra: new JsonObject { ["tags"] = new JsonArray("x", "y"), ["comment"] = "needle here" });
        var b = await CreateTaskAsync("alpha-2", project, extra: new JsonObject { ["tags"] = new JsonArray("x"), ["system_tags"] = new JsonArray("archived") });
        var c = await CreateTaskAsync("beta", project, "testing");
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = c });

        async Task<string[]> Ids(JsonObject query)
        {
            query["project"] = new JsonArray(project);
            query["order_by"] ??= new JsonArray("name");
            return (await Api.OkAsync("tasks.get_all", query))["tasks"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()).ToArray();
        }

        Assert.Equal([a, b], await Ids(new JsonObject { ["name"] = "^alpha" }));
        Assert.Equal([a, b, c], await Ids(new JsonObject { ["name"] = "a" }));
        Assert.Equal([a], await Ids(new JsonObject { ["tags"] = new JsonArray("__$all", "x", "y") }));
        Assert.Equal([a, b], await Ids(new JsonObject { ["tags"] = new JsonArray("x", "zzz") }));
        Assert.Equal([a, c], await Ids(new JsonObject { ["system_tags"] = new JsonArray("-archived") }));
        Assert.Equal([a, c], await Ids(new JsonObject { ["system_tags"] = new JsonArray("__$not", "archived") }));
        Assert.Equal([c], await Ids(new JsonObject { ["tags"] = new JsonArray((JsonNode?)null) }));
        Assert.Equal([c], await Ids(new JsonObject { ["status"] = new JsonArray("in_progress") }));
        Assert.Equal([c], await Ids(new JsonObject { ["type"] = new JsonArray("testing") }));
        Assert.Equal([a], await Ids(new JsonObject { ["search_text"] = "NEEDLE" }));
        Assert.Equal([b], await Ids(new JsonObject { ["search_text"] = b[..10] }));
        Assert.Equal([c, b, a], await Ids(new JsonObject { ["order_by"] = new JsonArray("-name") }));
        Assert.Equal([b], await Ids(new JsonObject { ["page"] = 1, ["page_size"] = 1 }));

        var projected = await Api.OkAsync("tasks.get_all", new JsonObject { ["id"] = new JsonArray(a), ["only_fields"] = new JsonArray("script.binary", "name") });
        Assert.Equal($$"""{"id":"{{a}}","script":{"binary":"python"},"name":"alpha-1"}""", projected["tasks"]![0]!.ToJsonString());
    }

    [Fact]
    public async Task Get_all_orders_by_a_metric_value_and_by_a_hyper_parameter()
    {
        var project = await CreateProjectAsync("order");
        var ids = new List<string>();
        foreach (var (name, loss, lr) in new[] { ("a", 0.5, "3"), ("b", 0.1, "1"), ("c", 0.9, "2") })
        {
            var id = await CreateTaskAsync(name, project, extra: new JsonObject
            {
                ["hyperparams"] = new JsonObject { ["Args"] = new JsonObject { ["lr"] = new JsonObject { ["section"] = "Args", ["name"] = "lr", ["value"] = lr } } },
            });
            await Api.AddBatchAsync([Scalar(id, "loss", "val", 1, loss)]);
            ids.Add(id);
        }
        var path = $"last_metrics.{Md5("loss")}.{Md5("val")}.value";
        var byLoss = await Api.OkAsync("tasks.get_all", new JsonObject { ["project"] = new JsonArray(project), ["order_by"] = new JsonArray("-" + path), ["only_fields"] = new JsonArray("name") });
        Assert.Equal(["c", "a", "b"], byLoss["tasks"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()));
        var byLr = await Api.OkAsync("tasks.get_all", new JsonObject { ["project"] = new JsonArray(project), ["order_by"] = new JsonArray("hyperparams.Args.lr.value"), ["only_fields"] = new JsonArray("name") });
        Assert.Equal(["b", "c", "a"], byLr["tasks"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Hidden_tasks_are_found_only_when_asked_for()
    {
        var hidden = await CreateTaskAsync("h", extra: new JsonObject { ["system_tags"] = new JsonArray("hidden") });
        Assert.Empty((await Api.OkAsync("tasks.get_all", new JsonObject { ["name"] = "^h$" }))["tasks"]!.AsArray());
        Assert.Single((await Api.OkAsync("tasks.get_all", new JsonObject { ["name"] = "^h$", ["search_hidden"] = true }))["tasks"]!.AsArray());
        Assert.Single((await Api.OkAsync("tasks.get_all", new JsonObject { ["id"] = new JsonArray(hidden) }))["tasks"]!.AsArray());
    }

    [Fact]
    public async Task Stop_dequeue_reset_archive_and_delete_follow_the_reference_rules()
    {
        var task = await CreateTaskAsync("t");
        await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = task, ["queue_name"] = "gpu" });
        var queue = (await Api.OkAsync("queues.get_all", new JsonObject { ["name"] = "^gpu$" }))["queues"]![0]!;
        Assert.Equal(task, queue["entries"]![0]!["task"]!.GetValue<string>());

        var dequeued = await Api.OkAsync("tasks.dequeue", new JsonObject { ["task"] = task });
        Assert.Equal("created", dequeued["fields"]!["status"]!.GetValue<string>());
        Assert.Equal(1, dequeued["dequeued"]!.GetValue<int>());
        Assert.Equal(0, (await Api.OkAsync("queues.get_num_entries", new JsonObject { ["queue"] = queue["id"]!.DeepClone() }))["num"]!.GetValue<int>());

        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        await Api.OkAsync("tasks.stop", new JsonObject { ["task"] = task });
        Assert.Equal("stopped", (await GetTaskAsync(task))["status"]!.GetValue<string>());

        var archived = await Api.OkAsync("tasks.archive_many", new JsonObject { ["ids"] = new JsonArray(task) });
        Assert.Equal(task, archived["succeeded"]![0]!["id"]!.GetValue<string>());
        Assert.Contains("archived", (await GetTaskAsync(task))["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        await Api.OkAsync("tasks.unarchive_many", new JsonObject { ["ids"] = new JsonArray(task) });
        Assert.DoesNotContain("archived", (await GetTaskAsync(task))["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));

        await Api.AddBatchAsync([Scalar(task, "m", "v", 1, 1)]);
        await Api.OkAsync("tasks.delete", new JsonObject { ["task"] = task });
        Assert.Equal((400, 101), ((await Api.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = task })).Status, 101));
        var series = await Server.Server.Stores.Events.GetSeriesAsync([task]);
        Assert.Empty(series);
    }

    [Fact]
    public async Task Artifacts_and_model_references_are_upserted_by_key()
    {
        var task = await CreateTaskAsync("t");
        var artifact = new JsonObject
        {
            ["key"] = "stats", ["type"] = "dict", ["uri"] = "http://files/stats.json", ["content_size"] = 12, ["hash"] = "abc", ["timestamp"] = 1_700_000_000,
            ["type_data"] = new JsonObject { ["preview"] = "{}", ["content_type"] = "application/json" }, ["display_data"] = new JsonArray(new JsonArray("rows", "2")),
        };
        await Api.OkAsync("tasks.add_or_update_artifacts", new JsonObject { ["task"] = task, ["artifacts"] = new JsonArray(artifact.DeepClone()) });
        artifact["hash"] = "def";
        await Api.OkAsync("tasks.add_or_update_artifacts", new JsonObject { ["task"] = task, ["artifacts"] = new JsonArray(artifact.DeepClone()) });
        var stored = (await GetTaskAsync(task))["execution"]!["artifacts"]!.AsArray();
        Assert.Single(stored);
        Assert.Equal("def", stored[0]!["hash"]!.GetValue<string>());
        Assert.Equal("output", stored[0]!["mode"]!.GetValue<string>());
        Assert.Equal(1, (await Api.OkAsync("tasks.delete_artifacts", new JsonObject { ["task"] = task, ["artifacts"] = new JsonArray(new JsonObject { ["key"] = "stats" }) }))["deleted"]!.GetValue<int>());

        await Api.OkAsync("tasks.add_or_update_model", new JsonObject { ["task"] = task, ["name"] = "weights", ["model"] = "m1", ["type"] = "output" });
        await Api.OkAsync("tasks.add_or_update_model", new JsonObject { ["task"] = task, ["name"] = "weights", ["model"] = "m2", ["type"] = "output" });
        var models = (await GetTaskAsync(task))["models"]!["output"]!.AsArray();
        Assert.Equal("m2", Assert.Single(models)!["model"]!.GetValue<string>());
        await Api.OkAsync("tasks.delete_models", new JsonObject { ["task"] = task, ["models"] = new JsonArray(new JsonObject { ["name"] = "weights", ["type"] = "output" }) });
        Assert.Empty((await GetTaskAsync(task))["models"]!["output"]!.AsArray());
    }

#pragma warning disable CA5351 // MD5 names things as ClearML does (ids and keys the clients compute too); it guards nothing.
    private static string Md5(string text) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5351
}

public sealed class TasksTestsOnSqlite() : TasksTests("sqlite");

public sealed class TasksTestsOnPostgres() : TasksTests("postgres");
