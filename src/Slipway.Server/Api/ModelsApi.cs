using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Serving;
using Slipway.Server.Domain.StoredFiles;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;
using Slipway.Wire;

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
        var now = Now();
        var template = new ModelDocument
        {
            Id = Guid.NewGuid().ToString("N"),
            Name = call.RequireString(DocumentFields.Name),
            Uri = call.String(ModelFields.Uri) ?? throw ApiException.MissingField(ModelFields.Uri),
            User = call.Caller.User,
            Company = call.Caller.Company,
            Created = now,
            LastUpdate = now,
            Comment = "",
            Tags = [],
            SystemTags = [],
            Labels = [],
            Design = [],
            Metadata = [],
            Ready = false,
        };
        await CheckReferencesAsync(call);
        var model = Apply(call, template);
        var body = DocumentJson.ToJson(template);
        DocumentJson.Apply(body, template, model, NamedNulls(call));
        if (!await docs.InsertAsync(Collection.Models, model.Id, body, call.Aborted))
            throw ApiException.NotUnique($"model id {model.Id}");
        await autoUpdate.ModelChangedAsync(model, call.Aborted);
        return new JsonObject { ["id"] = model.Id, ["created"] = true };
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
            if (model.Ready && call.Has(ModelFields.Uri) && call.String(ModelFields.Uri) != model.Uri)
                throw new ApiException(400, 203, "Model is published and its uri cannot change");
            var changed = Apply(call, model);
            if (!replaceDesign && model.Design is { } old && call.Object(ModelFields.Design) is { } given)
            {
                var merged = (JsonObject)old.DeepClone();
                foreach (var (k, v) in given)
                    merged[k] = v?.DeepClone();
                changed = changed with { Design = merged };
            }
            return changed with { LastIteration = call.Long(ModelFields.Iteration) ?? changed.LastIteration };
        }, call.Aborted, NamedNulls(call));
        // A model that gets its file may be what an endpoint's auto-update rule waits for.
        if (call.String(ModelFields.Uri) is { Length: > 0 })
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
        var updated = await UpdateAsync(model.Id, m => m with { Ready = true }, call.Aborted);
        await autoUpdate.ModelChangedAsync(updated, call.Aborted);
        var result = new JsonObject { ["updated"] = 1 };
        if (call.Bool("publish_task", true) && updated.Task is { Length: > 0 } taskId
            && await docs.GetAsync<TaskDocument>(taskId, call.Aborted) is { } task
            && task.Status != TaskStatuses.Published)
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
            var metadata = replace || model.Metadata is null ? [] : (JsonObject)model.Metadata.DeepClone();
            foreach (var (key, item) in items)
                metadata[key] = item.DeepClone();
            return model with { Metadata = metadata };
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> DeleteMetadata(RpcCall call)
    {
        var keys = call.StringList("keys") ?? throw ApiException.MissingField("keys");
        await UpdateAsync(call.RequireString("model"), model =>
        {
            if (model.Metadata is null)
                return model;
            var metadata = (JsonObject)model.Metadata.DeepClone();
            foreach (var key in keys)
                metadata.Remove(key);
            return model with { Metadata = metadata };
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
                var tags = model.SystemTags ?? [];
                return model with
                {
                    SystemTags = Json.Sorted(archive ? tags.Append(DocumentFields.ArchivedTag) : tags.Where(t => t != DocumentFields.ArchivedTag)),
                };
            }, call.Aborted);
            return new JsonObject { [archive ? "archived" : "unarchived"] = true };
        });
    }

    /// <summary>A published model is deleted only with force; its file goes to <see cref="FileCleanup"/>.</summary>
    private async ValueTask<JsonNode?> Delete(RpcCall call)
    {
        var stored = await RequireAsync(call.RequireString("model"), call.Aborted);
        var model = stored.As<ModelDocument>();
        if (model.Ready && !call.Bool("force"))
            throw new ApiException(400, 202, $"Model is published and can only be deleted with force (id={model.Id})");
        await docs.DeleteAsync(Collection.Models, model.Id, call.Aborted);
        await events.DeleteTaskEventsAsync(model.Id, call.Aborted);
        await cleanup.EnqueueAsync(FileReferences.PathsIn(stored.Body, await filesPort.All), $"model {model.Id} deleted", call.Aborted);
        return new JsonObject { ["deleted"] = true, ["url"] = model.Uri };
    }

    /// <summary>The model with the definition fields the call sets; a text field the call names is set, to null when it says null.</summary>
    private static ModelDocument Apply(RpcCall call, ModelDocument model)
    {
        string? Given(string field, string? current) => call.Has(field) ? call.String(field) : current;
        var labels = call.Object(ModelFields.Labels);
        foreach (var (name, value) in labels ?? [])
        {
            if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue(out long _))
                throw ApiException.Validation($"label '{name}' must map to an integer");
        }
        return model with
        {
            Name = Given(DocumentFields.Name, model.Name),
            Uri = Given(ModelFields.Uri, model.Uri),
            Comment = Given(DocumentFields.Comment, model.Comment),
            Framework = Given(ModelFields.Framework, model.Framework),
            Parent = Given(ModelFields.Parent, model.Parent),
            Task = Given(ModelFields.Task, model.Task),
            Project = Given(DocumentFields.Project, model.Project),
            Tags = call.StringList(DocumentFields.Tags) is { } tags ? Json.Sorted(tags) : model.Tags,
            SystemTags = call.StringList(DocumentFields.SystemTags) is { } systemTags ? Json.Sorted(systemTags) : model.SystemTags,
            Design = (JsonObject?)call.Object(ModelFields.Design)?.DeepClone() ?? model.Design,
            Labels = (JsonObject?)labels?.DeepClone() ?? model.Labels,
            Ready = call.Has(ModelFields.Ready) ? call.Bool(ModelFields.Ready) : model.Ready,
        };
    }

    /// <summary>The text fields a call sets to an explicit null, which the document keeps as null (as it always has).</summary>
    private static IEnumerable<string> NamedNulls(RpcCall call) => DocumentJson.NullsIn(call.Body).Intersect(TextFields);

    private static readonly string[] TextFields =
        [DocumentFields.Name, ModelFields.Uri, DocumentFields.Comment, ModelFields.Framework, ModelFields.Parent, ModelFields.Task, DocumentFields.Project];

    /// <summary>The task and project a call names must exist.</summary>
    private async Task CheckReferencesAsync(RpcCall call)
    {
        if (call.String("task") is { Length: > 0 } task && await docs.GetAsync(Collection.Tasks, task, call.Aborted) is null)
            throw ApiException.InvalidTaskId(task);
        if (call.String("project") is { Length: > 0 } project && await docs.GetAsync(Collection.Projects, project, call.Aborted) is null)
            throw ApiException.InvalidProjectId(project);
    }

    private async Task<ModelDocument> UpdateAsync(string id, Func<ModelDocument, ModelDocument> change, CancellationToken ct, IEnumerable<string>? namedNulls = null) =>
        (await docs.UpdateAsync<ModelDocument>(id, model => change(model) with { LastUpdate = Now() }, () => ApiException.InvalidModelId(id), ct, namedNulls))!;

    private async Task<StoredDoc> RequireAsync(string id, CancellationToken ct) =>
        await docs.GetAsync(Collection.Models, id, ct) ?? throw ApiException.InvalidModelId(id);
}
