using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>A task's inputs: requirements, hyperparameters by section, and named configuration objects.</summary>
public sealed class TaskParametersApi(IDocumentStore docs, TaskUpdates updates)
{
    public void Map(RpcRouter router)
    {
        router.Add("tasks.set_requirements", SetRequirements, "task requirements force");
        router.Add("tasks.edit_hyper_params", EditHyperParams, "task hyperparams replace_hyperparams force");
        router.Add("tasks.get_hyper_params", GetHyperParams, "tasks");
        router.Add("tasks.delete_hyper_params", DeleteHyperParams, "task hyperparams force");
        router.Add("tasks.edit_configuration", EditConfiguration, "task configuration replace_configuration force");
        router.Add("tasks.get_configurations", GetConfigurations, "tasks names");
        router.Add("tasks.get_configuration_names", GetConfigurationNames, "tasks skip_empty");
        router.Add("tasks.delete_configuration", DeleteConfiguration, "task configuration force");
    }

    private async ValueTask<JsonNode?> SetRequirements(RpcCall call)
    {
        var requirements = call.Object("requirements") ?? throw ApiException.MissingField("requirements");
        var force = call.Bool("force");
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            // The agent writes the frozen requirements back while the task runs.
            var status = task["status"]?.GetValue<string>();
            if (!force && status is not (TaskStatuses.Created or TaskStatuses.InProgress))
                throw ApiException.InvalidTaskStatus($"expected={TaskStatuses.Created}, status={status}");
            Json.Set(task, "script.requirements", requirements.DeepClone());
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1, ["fields"] = new JsonObject { ["script.requirements"] = requirements.DeepClone() } };
    }

    private async ValueTask<JsonNode?> EditHyperParams(RpcCall call)
    {
        var items = ParameterItems(call, "hyperparams", sectioned: true);
        var replace = call.String("replace_hyperparams") ?? "none";
        if (replace is not ("none" or "section" or "all"))
            throw ApiException.Validation("replace_hyperparams must be none, section or all");
        var force = call.Bool("force");
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            if (!items.All(i => i["section"]!.GetValue<string>() == "properties"))
                TaskUpdates.RequireEditable(task, force);
            if (task["hyperparams"] is not JsonObject sections || replace == "all")
                task["hyperparams"] = sections = [];
            if (replace == "section")
            {
                foreach (var section in items.Select(i => i["section"]!.GetValue<string>()).Distinct())
                    sections[section] = new JsonObject();
            }
            foreach (var item in items)
            {
                var section = item["section"]!.GetValue<string>();
                if (sections[section] is not JsonObject names)
                    sections[section] = names = [];
                names[item["name"]!.GetValue<string>()] = item;
            }
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> GetHyperParams(RpcCall call)
    {
        var ids = call.StringList("tasks") ?? throw ApiException.MissingField("tasks");
        var found = await docs.FindAsync(Collection.Tasks, new DocQuery().Where(new FieldIn("id", ids)), call.Aborted);
        var result = new JsonArray();
        foreach (var task in found)
        {
            var list = new JsonArray();
            if (task.Body["hyperparams"] is JsonObject sections)
            {
                foreach (var (_, names) in sections)
                {
                    foreach (var (_, item) in names as JsonObject ?? [])
                        list.Add(item?.DeepClone());
                }
            }
            result.Add(new JsonObject { ["task"] = task.Id, ["hyperparams"] = list });
        }
        return new JsonObject { ["params"] = result };
    }

    private async ValueTask<JsonNode?> DeleteHyperParams(RpcCall call)
    {
        var keys = call.Array("hyperparams") ?? throw ApiException.MissingField("hyperparams");
        var force = call.Bool("force");
        var deleted = 0;
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            deleted = 0;
            var parsed = keys.Select(k => (Section: RpcCall.AsString(k?["section"], "section") ?? throw ApiException.MissingField("section"),
                Name: RpcCall.AsString(k?["name"], "name"))).ToList();
            if (!parsed.All(k => k.Section == "properties"))
                TaskUpdates.RequireEditable(task, force);
            if (task["hyperparams"] is not JsonObject sections)
                return;
            foreach (var (section, name) in parsed)
            {
                if (name is null)
                    deleted += sections.Remove(section) ? 1 : 0;
                else if (sections[section] is JsonObject names && names.Remove(name))
                    deleted++;
            }
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["deleted"] = deleted };
    }

    private async ValueTask<JsonNode?> EditConfiguration(RpcCall call)
    {
        var items = ParameterItems(call, "configuration", sectioned: false);
        var replace = call.Bool("replace_configuration");
        var force = call.Bool("force");
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            TaskUpdates.RequireEditable(task, force);
            if (task["configuration"] is not JsonObject configuration || replace)
                task["configuration"] = configuration = [];
            foreach (var item in items)
                configuration[item["name"]!.GetValue<string>()] = item;
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> GetConfigurations(RpcCall call)
    {
        var ids = call.StringList("tasks") ?? throw ApiException.MissingField("tasks");
        var names = call.StringList("names");
        var found = await docs.FindAsync(Collection.Tasks, new DocQuery().Where(new FieldIn("id", ids)), call.Aborted);
        var result = new JsonArray();
        foreach (var task in found)
        {
            var list = new JsonArray();
            foreach (var (name, item) in task.Body["configuration"] as JsonObject ?? [])
            {
                if (names is null || names.Count == 0 || names.Contains(name))
                    list.Add(item?.DeepClone());
            }
            result.Add(new JsonObject { ["task"] = task.Id, ["configuration"] = list });
        }
        return new JsonObject { ["configurations"] = result };
    }

    private async ValueTask<JsonNode?> GetConfigurationNames(RpcCall call)
    {
        var ids = call.StringList("tasks") ?? throw ApiException.MissingField("tasks");
        var found = await docs.FindAsync(Collection.Tasks, new DocQuery().Where(new FieldIn("id", ids)), call.Aborted);
        var skipEmpty = call.Bool("skip_empty", true);
        var result = new JsonArray();
        foreach (var task in found)
        {
            var names = (task.Body["configuration"] as JsonObject ?? []).Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
            if (skipEmpty && names.Count == 0)
                continue;
            result.Add(new JsonObject { ["task"] = task.Id, ["names"] = new JsonArray(names.Select(n => (JsonNode)n).ToArray()) });
        }
        return new JsonObject { ["configurations"] = result };
    }

    private async ValueTask<JsonNode?> DeleteConfiguration(RpcCall call)
    {
        var names = call.StringList("configuration") ?? throw ApiException.MissingField("configuration");
        var force = call.Bool("force");
        var deleted = 0;
        await updates.UpdateAsync(call.RequireString("task"), task =>
        {
            TaskUpdates.RequireEditable(task, force);
            deleted = names.Count(n => (task["configuration"] as JsonObject)?.Remove(n) == true);
            TaskDocuments.Touch(task, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["deleted"] = deleted };
    }

    /// <summary>Reads a list of parameter items ({section?, name, value, type, description}), as stored.</summary>
    private static List<JsonObject> ParameterItems(RpcCall call, string field, bool sectioned)
    {
        var list = call.Array(field) ?? throw ApiException.MissingField(field);
        var items = new List<JsonObject>();
        foreach (var node in list)
        {
            if (node is not JsonObject given)
                throw ApiException.Validation($"each item of '{field}' must be an object");
            var item = new JsonObject();
            foreach (var key in sectioned ? new[] { "section", "name", "value", "type", "description" } : ["name", "value", "type", "description"])
            {
                if (given[key] is { } v)
                    item[key] = v.GetValueKind() == JsonValueKind.String ? v.DeepClone() : v.ToJsonString();
            }
            if (sectioned && item["section"] is null)
                throw ApiException.MissingField("section");
            if (item["name"] is null)
                throw ApiException.MissingField("name");
            if (sectioned && item["section"]!.GetValue<string>().Equals("properties", StringComparison.OrdinalIgnoreCase))
                item["section"] = "properties";
            items.Add(item);
        }
        return items;
    }
}
