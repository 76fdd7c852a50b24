using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Domain.Tasks;

namespace Slipway.Server.Api;

/// <summary>What a task produces, by reference: artifacts (by key and mode) and the models it reads and writes.</summary>
public sealed class TaskOutputsApi(TaskUpdates updates)
{
    public void Map(RpcRouter router)
    {
        router.Add("tasks.add_or_update_artifacts", AddOrUpdateArtifacts, "task artifacts force");
        router.Add("tasks.delete_artifacts", DeleteArtifacts, "task artifacts force");
        router.Add("tasks.add_or_update_model", AddOrUpdateModel, "task name model type iteration");
        router.Add("tasks.delete_models", DeleteModels, "task models");
    }

    private async ValueTask<JsonNode?> AddOrUpdateArtifacts(RpcCall call)
    {
        var artifacts = call.Array("artifacts") ?? throw ApiException.MissingField("artifacts");
        foreach (var artifact in artifacts)
        {
            if (artifact is not JsonObject a || RpcCall.AsString(a["key"], "key") is not { Length: > 0 } || RpcCall.AsString(a["type"], "type") is null)
                throw ApiException.Validation("each artifact needs a key and a type");
        }
        var force = call.Bool("force");
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            TaskUpdates.RequireEditable(task, force);
            TaskDocuments.UpsertArtifacts(task, artifacts);
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["updated"] = artifacts.Count };
    }

    private async ValueTask<JsonNode?> DeleteArtifacts(RpcCall call)
    {
        var keys = (call.Array("artifacts") ?? throw ApiException.MissingField("artifacts"))
            .Select(a => a is JsonObject o
                ? (RpcCall.AsString(o["key"], "key") ?? throw ApiException.MissingField("key"), RpcCall.AsString(o["mode"], "mode") ?? "output")
                : throw ApiException.Validation("each artifact to delete is an object with a key"))
            .ToList();
        var force = call.Bool("force");
        var deleted = 0;
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            TaskUpdates.RequireEditable(task, force);
            deleted = TaskDocuments.DeleteArtifacts(task, keys);
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["deleted"] = deleted };
    }

    private async ValueTask<JsonNode?> AddOrUpdateModel(RpcCall call)
    {
        var name = call.RequireString("name");
        var model = call.RequireString("model");
        var type = call.RequireString("type");
        if (type is not ("input" or "output"))
            throw ApiException.Validation("type must be input or output");
        var entry = new JsonObject { ["name"] = name, ["model"] = model, ["updated"] = updates.Now() };
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            if (task["models"] is not JsonObject models)
                task["models"] = models = [];
            if (models[type] is not JsonArray list)
                models[type] = list = [];
            var existing = list.OfType<JsonObject>().FirstOrDefault(m => m["name"]?.GetValue<string>() == name);
            if (existing is not null)
                list.Remove(existing);
            list.Add(entry.DeepClone());
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> DeleteModels(RpcCall call)
    {
        var keys = (call.Array("models") ?? throw ApiException.MissingField("models"))
            .Select(m => (Name: RpcCall.AsString(m?["name"], "name") ?? throw ApiException.MissingField("name"),
                Type: RpcCall.AsString(m?["type"], "type") ?? throw ApiException.MissingField("type")))
            .ToList();
        var removed = 0;
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            removed = 0;
            foreach (var (name, type) in keys)
            {
                if (Json.Get(task, "models." + type) is JsonArray list
                    && list.OfType<JsonObject>().FirstOrDefault(m => m["name"]?.GetValue<string>() == name) is { } match)
                {
                    list.Remove(match);
                    removed++;
                }
            }
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["updated"] = removed };
    }
}
