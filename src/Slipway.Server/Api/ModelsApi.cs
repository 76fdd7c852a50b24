using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Serving;
using Slipway.Server.Domain.StoredFiles;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>models.*: the model registry. A model points at its weights (uri) and at the task that made it.</summary>
public sealed class ModelsApi(IDocumentStore docs, AccessControl access, IEventStore events, TaskUpdates tasks, FileCleanup cleanup, FilesPort filesPort, TimeProvider clock,
    ServingAutoUpdate autoUpdate)
{
    private const string DefinitionFields = "uri name comment tags system_tags framework design labels ready project parent task metadata";

    public void Map(RpcRouter router)
    {
        router.Add("models.create", Create, DefinitionFields + " public override_model_id");
        router.Add("models.get_by_id", GetById, "model");
        router.Add("models.get_all", GetAll, ListRequest.Fields + " task project framework uri ready user include_subprojects last_update");
        router.Add("models.get_all_ex", GetAll, ListRequest.Fields + " task project framework uri ready user include_subprojects last_update allow_public");
        router.Add("models.edit", call => Edit(call, replaceDesign: true), "model iteration " + DefinitionFields);
        router.Add("models.update", call => Edit(call, replaceDesign: false), "model iteration created " + DefinitionFields);
        router.Add("models.set_ready", SetReady, "model publish_task force_publish_task force");
        router.Add("models.add_or_update_metadata", AddOrUpdateMetadata, "model metadata replace_metadata");
        router.Add("models.delete_metadata", DeleteMetadata, "model keys");
        router.Add("models.archive_many", call => Archive(call, true), "ids");
        router.Add("models.unarchive_many", call => Archive(call, false), "ids");
        router.Add("models.delete", Delete, "model force");
    }

    private string Now() => Json.Timestamp(clock.GetUtcNow());

    private async ValueTask<JsonNode?> Create(RpcCall call)
    {
        var id = Guid.NewGuid().ToString("N");
        var now = Now();
        var model = new JsonObject
        {
            ["id"] = id,
            ["name"] = call.RequireString("name"),
            ["uri"] = call.String("uri") ?? throw ApiException.MissingField("uri"),
            ["user"] = call.Caller.User,
            ["company"] = call.Caller.Company,
            ["created"] = now,
            ["last_update"] = now,
            ["comment"] = "",
            ["tags"] = new JsonArray(),
            ["system_tags"] = new JsonArray(),
            ["labels"] = new JsonObject(),
            ["design"] = new JsonObject(),
            ["metadata"] = new JsonObject(),
            ["ready"] = false,
        };
        await CheckReferencesAsync(call);
        Apply(call, model);
        if (!await docs.InsertAsync(Collection.Models, id, model, call.Aborted))
            throw ApiException.NotUnique($"model id {id}");
        await autoUpdate.ModelChangedAsync(model, call.Aborted);
        return new JsonObject { ["id"] = id, ["created"] = true };
    }

    private async ValueTask<JsonNode?> GetById(RpcCall call)
    {
        var model = await RequireAsync(call.RequireString("model"), call.Aborted);
        return new JsonObject { ["model"] = model.Body };
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var query = ListRequest.Build(call, ["name", "id", "comment"]);
        query.Where(await access.VisibleAsync(call.Caller, Collection.Models, call.Aborted, call.StringList("project")));
        ListRequest.AddIn(call, query, "task", "task");
        ListRequest.AddIn(call, query, "project", "project");
        ListRequest.AddIn(call, query, "framework", "framework");
        ListRequest.AddIn(call, query, "uri", "uri");
        ListRequest.AddIn(call, query, "user", "user");
        if (call.Has("ready"))
            query.Where(new FieldIsBool("ready", call.Bool("ready")));
        var found = await docs.FindAsync(Collection.Models, query, call.Aborted);
        var onlyFields = call.StringList("only_fields");
        return new JsonObject { ["models"] = new JsonArray(found.Select(m => (JsonNode)Json.Project(m.Body, onlyFields)).ToArray()) };
    }

    /// <summary>models.edit and models.update: set the given fields (design is replaced by edit, merged by update).</summary>
    private async ValueTask<JsonNode?> Edit(RpcCall call, bool replaceDesign)
    {
        await CheckReferencesAsync(call);
        var edited = await UpdateAsync(call.RequireString("model"), model =>
        {
            if (Json.GetBool(model, "ready") && call.Has("uri") && call.String("uri") != Json.GetString(model, "uri"))
                throw new ApiException(400, 203, "Model is published and its uri cannot change");
            var before = model["design"]?.DeepClone();
            Apply(call, model);
            if (!replaceDesign && before is JsonObject old && model["design"] is JsonObject given)
            {
                foreach (var (k, v) in given)
                    old[k] = v?.DeepClone();
                model["design"] = old;
            }
            if (call.Long("iteration") is { } iteration)
                model["last_iteration"] = iteration;
        }, call.Aborted);
        // A model that gets its file may be what an endpoint's auto-update rule waits for.
        if (call.String("uri") is { Length: > 0 })
            await autoUpdate.ModelChangedAsync(edited, call.Aborted);
        var fields = new JsonObject();
        foreach (var (key, value) in call.Body.Where(p => p.Key != "model"))
            fields[key] = value?.DeepClone();
        return new JsonObject { ["updated"] = 1, ["fields"] = fields };
    }

    /// <summary>Publishes the model; with publish_task, also the task that made it, if it is not published yet.</summary>
    private async ValueTask<JsonNode?> SetReady(RpcCall call)
    {
        var model = await RequireAsync(call.RequireString("model"), call.Aborted);
        var updated = await UpdateAsync(model.Id, m => m["ready"] = true, call.Aborted);
        await autoUpdate.ModelChangedAsync(updated, call.Aborted);
        var result = new JsonObject { ["updated"] = 1 };
        if (call.Bool("publish_task", true) && Json.GetString(updated, "task") is { Length: > 0 } taskId
            && await docs.GetAsync(Collection.Tasks, taskId, call.Aborted) is { } task
            && Json.GetString(task.Body, "status") != TaskStatuses.Published)
        {
            await tasks.ChangeStatusAsync(taskId, TaskStatuses.Published, call.Bool("force_publish_task") || call.Bool("force"), "model published", "", call.Aborted,
                (body, fields, _) => body["published"] = fields["status_changed"]!.DeepClone());
            result["published_task"] = new JsonObject { ["id"] = taskId, ["data"] = new JsonObject { ["updated"] = 1 } };
        }
        return result;
    }

    private async ValueTask<JsonNode?> AddOrUpdateMetadata(RpcCall call)
    {
        var items = (call.Array("metadata") ?? throw ApiException.MissingField("metadata")).Select(item =>
        {
            var key = RpcCall.AsString(item?["key"], "key") ?? throw ApiException.MissingField("key");
            return (key, new JsonObject
            {
                ["key"] = key,
                ["type"] = RpcCall.AsString(item?["type"], "type") ?? "",
                ["value"] = item?["value"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : item?["value"]?.ToJsonString() ?? "",
            });
        }).ToList();
        var replace = call.Bool("replace_metadata");
        await UpdateAsync(call.RequireString("model"), model =>
        {
            if (replace || model["metadata"] is not JsonObject)
                model["metadata"] = new JsonObject();
            foreach (var (key, item) in items)
                model["metadata"]![key] = item;
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> DeleteMetadata(RpcCall call)
    {
        var keys = call.StringList("keys") ?? throw ApiException.MissingField("keys");
        await UpdateAsync(call.RequireString("model"), model =>
        {
            foreach (var key in keys)
                (model["metadata"] as JsonObject)?.Remove(key);
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> Archive(RpcCall call, bool archive)
    {
        var ids = call.StringList("ids") ?? throw ApiException.MissingField("ids");
        return await BulkResult.RunAsync(ids, async id =>
        {
            await UpdateAsync(id, model =>
            {
                var tags = Json.GetStrings(model, "system_tags");
                model["system_tags"] = Json.SortedStrings(archive ? tags.Append("archived") : tags.Where(t => t != "archived"));
            }, call.Aborted);
            return new JsonObject { [archive ? "archived" : "unarchived"] = true };
        });
    }

    /// <summary>A published model is deleted only with force; its file goes to <see cref="FileCleanup"/>.</summary>
    private async ValueTask<JsonNode?> Delete(RpcCall call)
    {
        var model = await RequireAsync(call.RequireString("model"), call.Aborted);
        if (Json.GetBool(model.Body, "ready") && !call.Bool("force"))
            throw new ApiException(400, 202, $"Model is published and can only be deleted with force (id={model.Id})");
        await docs.DeleteAsync(Collection.Models, model.Id, call.Aborted);
        await events.DeleteTaskEventsAsync(model.Id, call.Aborted);
        await cleanup.EnqueueAsync(FileReferences.PathsIn(model.Body, await filesPort.All), $"model {model.Id} deleted", call.Aborted);
        return new JsonObject { ["deleted"] = true, ["url"] = Json.GetString(model.Body, "uri") };
    }

    private static void Apply(RpcCall call, JsonObject model)
    {
        foreach (var field in new[] { "name", "uri", "comment", "framework", "parent" })
        {
            if (call.Has(field))
                model[field] = call.String(field);
        }
        if (call.Has("task"))
            model["task"] = call.String("task");
        if (call.Has("project"))
            model["project"] = call.String("project");
        if (call.StringList("tags") is { } tags)
            model["tags"] = Json.SortedStrings(tags);
        if (call.StringList("system_tags") is { } systemTags)
            model["system_tags"] = Json.SortedStrings(systemTags);
        if (call.Object("design") is { } design)
            model["design"] = design.DeepClone();
        if (call.Object("labels") is { } labels)
        {
            foreach (var (name, value) in labels)
            {
                if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue(out long _))
                    throw ApiException.Validation($"label '{name}' must map to an integer");
            }
            model["labels"] = labels.DeepClone();
        }
        if (call.Has("ready"))
            model["ready"] = call.Bool("ready");
    }

    /// <summary>The task and project a call names must exist.</summary>
    private async Task CheckReferencesAsync(RpcCall call)
    {
        if (call.String("task") is { Length: > 0 } task && await docs.GetAsync(Collection.Tasks, task, call.Aborted) is null)
            throw ApiException.InvalidTaskId(task);
        if (call.String("project") is { Length: > 0 } project && await docs.GetAsync(Collection.Projects, project, call.Aborted) is null)
            throw ApiException.InvalidProjectId(project);
    }

    private async Task<JsonObject> UpdateAsync(string id, Action<JsonObject> change, CancellationToken ct) =>
        (await docs.UpdateAsync(Collection.Models, id, model =>
        {
            change(model);
            model["last_update"] = Now();
        }, () => ApiException.InvalidModelId(id), ct))!;


    private async Task<StoredDoc> RequireAsync(string id, CancellationToken ct) =>
        await docs.GetAsync(Collection.Models, id, ct) ?? throw ApiException.InvalidModelId(id);
}
