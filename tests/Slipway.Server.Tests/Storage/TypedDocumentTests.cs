using System.Text.Json.Nodes;
using Slipway.Server.Domain;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Tests.Storage;

/// <summary>Documents read and written as records keep what the records do not model, on each engine.</summary>
public abstract class TypedDocumentTests(string engine) : IAsyncLifetime
{
    private readonly StoreFixture _store = new(engine);

    public Task InitializeAsync() => _store.InitializeAsync();

    public Task DisposeAsync() => _store.DisposeAsync();

    private IDocumentStore Docs => _store.Docs;

    /// <summary>A model as a newer server or another client might have stored it: fields Slipway does not model, nulls, nesting.</summary>
    private static JsonObject StoredModel(string id) => new()
    {
        ["id"] = id, ["name"] = "resnet", ["uri"] = "s3://bucket/resnet.onnx", ["company"] = "slipway", ["ready"] = false,
        ["parent"] = null,
        ["tags"] = new JsonArray("b", "a"),
        ["ui_cache"] = new JsonObject { ["columns"] = new JsonArray("name", new JsonObject { ["width"] = 120 }), ["empty"] = new JsonObject() },
        ["stats"] = new JsonObject { ["labels_count"] = 3, ["ratio"] = 0.25 },
        ["future_field"] = null,
        ["flags"] = new JsonArray(true, false, null),
    };

    [Fact]
    public async Task An_update_through_the_record_keeps_unmodelled_fields_explicit_nulls_and_absent_fields()
    {
        var stored = StoredModel("m1");
        Assert.True(await Docs.InsertAsync(Collection.Models, "m1", stored));

        var updated = await Docs.UpdateAsync<ModelDocument>("m1", m => m with { Name = "resnet-v2", Ready = true }, null, CancellationToken.None);

        Assert.Equal("resnet-v2", updated!.Name);
        Assert.True(JsonNode.DeepEquals(stored["ui_cache"], JsonNode.Parse(updated.Extra!["ui_cache"].GetRawText())));
        var body = (await Docs.GetAsync(Collection.Models, "m1"))!.Body;
        var expected = (JsonObject)stored.DeepClone();
        expected["name"] = "resnet-v2";
        expected["ready"] = true;
        Assert.True(JsonNode.DeepEquals(expected, body), body.ToJsonString());
        // An explicit null stays one, and a field the document never had (design, metadata) is not added.
        Assert.True(body.ContainsKey("parent") && body["parent"] is null);
        Assert.True(body.ContainsKey("future_field") && body["future_field"] is null);
        Assert.False(body.ContainsKey("design"));
        Assert.False(body.ContainsKey("metadata"));
    }

    [Fact]
    public async Task A_record_read_and_inserted_again_carries_its_unmodelled_fields()
    {
        Assert.True(await Docs.InsertAsync(Collection.Models, "m1", StoredModel("m1")));
        var model = (await Docs.GetAsync<ModelDocument>("m1"))!;

        Assert.True(await Docs.InsertAsync(model with { Id = "m2" }));

        var copy = (await Docs.GetAsync(Collection.Models, "m2"))!.Body;
        Assert.Equal("m2", copy["id"]!.GetValue<string>());
        foreach (var field in new[] { "ui_cache", "stats", "flags", "future_field", "tags", "uri" })
            Assert.True(JsonNode.DeepEquals(StoredModel("m1")[field], copy[field]), $"{field}: {copy[field]?.ToJsonString()}");
        Assert.True(copy.ContainsKey("future_field"));
    }

    [Fact]
    public async Task A_queue_update_sets_null_only_where_a_request_named_it()
    {
        Assert.True(await Docs.InsertAsync(Collection.Queues, "q1", new JsonObject { ["id"] = "q1", ["name"] = "gpu", ["display_name"] = "GPU", ["priority"] = 7 }));

        await Docs.UpdateAsync<QueueDocument>("q1", q => q with { DisplayName = null, User = null }, null, CancellationToken.None, namedNulls: ["user"]);

        var body = (await Docs.GetAsync(Collection.Queues, "q1"))!.Body;
        // PostgreSQL's jsonb keeps keys in its own order, so the comparison ignores order.
        var expected = JsonNode.Parse("{\"id\":\"q1\",\"name\":\"gpu\",\"display_name\":null,\"priority\":7,\"user\":null}");
        Assert.True(JsonNode.DeepEquals(expected, body), body.ToJsonString());
    }

    [Fact]
    public async Task A_task_whose_definition_holds_any_json_reads_as_its_record_and_keeps_it()
    {
        // tasks.edit stores the definition as sent, so its fields may hold any JSON type; the record models the lifecycle only.
        var stored = new JsonObject
        {
            ["id"] = "t1", ["status"] = "queued", ["enqueue_status"] = "created", ["company"] = "slipway", ["name"] = 5,
            ["execution"] = "not an object", ["hyperparams"] = new JsonObject { ["Args"] = new JsonObject { ["lr"] = new JsonObject { ["value"] = "0.1" } } },
        };
        Assert.True(await Docs.InsertAsync(Collection.Tasks, "t1", stored));

        var task = (await Docs.GetAsync<TaskDocument>("t1"))!;
        Assert.Equal(("queued", "created"), (task.Status, task.EnqueueStatus));
        Assert.Equal(5, task.Extra!["name"].GetInt32());
        await Docs.UpdateAsync<TaskDocument>("t1", t => t with { Status = "created" }, null, CancellationToken.None);

        var body = (await Docs.GetAsync(Collection.Tasks, "t1"))!.Body;
        var expected = (JsonObject)stored.DeepClone();
        expected["status"] = "created";
        Assert.True(JsonNode.DeepEquals(expected, body), body.ToJsonString());
    }
}

public sealed class TypedDocumentTestsOnSqlite() : TypedDocumentTests("sqlite");

public sealed class TypedDocumentTestsOnPostgres() : TypedDocumentTests("postgres");
