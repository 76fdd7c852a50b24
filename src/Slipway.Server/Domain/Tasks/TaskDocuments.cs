using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Domain.Tasks;

/// <summary>Pure rules for task documents: what create fills in, how edit merges, what clone copies, what reset clears.</summary>
public static class TaskDocuments
{
    public static readonly IReadOnlySet<string> Types = new HashSet<string>
    {
        "training", "testing", "inference", "data_processing", "application", "monitor", "controller", "optimizer",
        "service", "qc", "custom",
    };

    /// <summary>Embedded documents: edit merges their given keys into what is stored.</summary>
    private static readonly string[] MergedFields = ["script", "execution", "output", "models"];

    /// <summary>Fields edit replaces whole.</summary>
    private static readonly string[] ReplacedFields =
        ["name", "tags", "system_tags", "type", "comment", "parent", "project", "hyperparams", "configuration", "container", "runtime"];

    public static readonly IReadOnlyList<string> EditableFields = [.. MergedFields, .. ReplacedFields, "output_dest"];

    public static JsonObject New(string id, string name, string type, string user, string company, string now)
    {
        return new JsonObject
        {
            ["id"] = id,
            ["name"] = name,
            ["type"] = type,
            ["user"] = user,
            ["company"] = company,
            ["status"] = TaskStatuses.Created,
            ["status_reason"] = "",
            ["status_message"] = "",
            ["status_changed"] = now,
            ["comment"] = "",
            ["created"] = now,
            ["last_update"] = now,
            ["last_change"] = now,
            ["tags"] = new JsonArray(),
            ["system_tags"] = new JsonArray(),
            ["execution"] = new JsonObject { ["parameters"] = new JsonObject(), ["artifacts"] = new JsonArray() },
            ["script"] = new JsonObject { ["binary"] = "python", ["repository"] = "", ["entry_point"] = "" },
            ["hyperparams"] = new JsonObject(),
            ["configuration"] = new JsonObject(),
            ["models"] = new JsonObject { ["input"] = new JsonArray(), ["output"] = new JsonArray() },
            ["container"] = new JsonObject(),
            ["runtime"] = new JsonObject(),
            ["output"] = new JsonObject(),
            ["last_iteration"] = 0,
            ["last_metrics"] = new JsonObject(),
        };
    }

    /// <summary>Applies edit fields to a task: embedded documents shallow-merge, everything else is replaced.</summary>
    public static void ApplyEdit(JsonObject task, JsonObject fields, string now)
    {
        foreach (var (key, value) in fields)
        {
            if (key == "output_dest")
            {
                Json.Set(task, "output.destination", Json.Clone(value));
            }
            else if (MergedFields.Contains(key) && value is JsonObject given)
            {
                if (task[key] is not JsonObject stored)
                    task[key] = stored = [];
                foreach (var (k, v) in given)
                    stored[k] = Json.Clone(v);
                if (key == "execution")
                    NormalizeArtifacts(stored);
            }
            else if (key is "tags" or "system_tags")
            {
                task[key] = value is JsonArray list ? Json.SortedStrings(list.Select(n => n?.GetValue<string>()).OfType<string>()) : new JsonArray();
            }
            else
            {
                task[key] = Json.Clone(value);
            }
        }
        task["last_change"] = now;
        task["last_update"] = now;
    }

    /// <summary>The copy a clone starts from (reference semantics: no runtime, metrics, output models or output artifacts).</summary>
    public static JsonObject Clone(JsonObject source, string id, string user, string company, string now)
    {
        var clone = New(id, source["name"]?.GetValue<string>() ?? "", source["type"]?.GetValue<string>() ?? "training", user, company, now);
        foreach (var field in new[] { "comment", "project", "tags", "script", "hyperparams", "configuration", "container" })
        {
            if (source[field] is { } value)
                clone[field] = value.DeepClone();
        }
        clone["system_tags"] = Json.SortedStrings(Json.GetStrings(source, "system_tags").Where(t => t is not ("development" or "archived")));
        if (source["execution"]?.DeepClone() is JsonObject execution)
        {
            execution.Remove("queue");
            if (execution["artifacts"] is JsonArray artifacts)
                execution["artifacts"] = new JsonArray(artifacts.Where(a => a?["mode"]?.GetValue<string>() == "input").Select(a => a!.DeepClone()).ToArray());
            clone["execution"] = execution;
        }
        if (source["models"]?["input"] is JsonArray inputModels)
            clone["models"] = new JsonObject { ["input"] = inputModels.DeepClone(), ["output"] = new JsonArray() };
        if (Json.Get(source, "output.destination") is { } destination)
            clone["output"] = new JsonObject { ["destination"] = destination.DeepClone() };
        return clone;
    }

    /// <summary>Clears what a run produced (reference semantics of tasks.reset).</summary>
    public static void Reset(JsonObject task, bool clearAll, string now)
    {
        foreach (var field in new[] { "started", "completed", "published", "last_worker", "last_worker_report", "active_duration" })
            task.Remove(field);
        task["last_iteration"] = 0;
        task["last_metrics"] = new JsonObject();
        task["runtime"] = new JsonObject();
        if (task["models"] is JsonObject models)
            models["output"] = new JsonArray();
        if (clearAll)
        {
            task["script"] = new JsonObject();
            task["execution"] = new JsonObject { ["artifacts"] = new JsonArray() };
        }
        else if (task["execution"] is JsonObject execution)
        {
            execution.Remove("queue");
            if (execution["artifacts"] is JsonArray artifacts)
                execution["artifacts"] = new JsonArray(artifacts.Where(a => a?["mode"]?.GetValue<string>() == "input").Select(a => a!.DeepClone()).ToArray());
        }
        task.Remove("enqueue_status");
        SetStatus(task, TaskStatuses.Created, "reset", "reset", now);
    }

    public static void SetStatus(JsonObject task, string status, string reason, string message, string now)
    {
        task["status"] = status;
        task["status_reason"] = reason;
        task["status_message"] = message;
        task["status_changed"] = now;
        task["last_update"] = now;
        task["last_change"] = now;
    }

    /// <summary>Marks a change to the task's definition.</summary>
    public static void Touch(JsonObject task, string now)
    {
        task["last_update"] = now;
        task["last_change"] = now;
    }

    /// <summary>Artifacts are identified by (key, mode); mode defaults to output.</summary>
    public static void NormalizeArtifacts(JsonObject execution)
    {
        if (execution["artifacts"] is not JsonArray artifacts)
        {
            execution["artifacts"] = new JsonArray();
            return;
        }
        foreach (var artifact in artifacts.OfType<JsonObject>())
            artifact["mode"] ??= "output";
    }

    /// <summary>Adds or replaces artifacts by (key, mode).</summary>
    public static void UpsertArtifacts(JsonObject task, JsonArray given)
    {
        if (task["execution"] is not JsonObject execution)
            task["execution"] = execution = [];
        if (execution["artifacts"] is not JsonArray stored)
            execution["artifacts"] = stored = [];
        // Positions by (key, mode), so that a call with thousands of artifacts costs one pass, not one per artifact.
        var positions = new Dictionary<(string?, string), int>();
        for (var i = 0; i < stored.Count; i++)
        {
            if (stored[i] is JsonObject known)
                positions.TryAdd(ArtifactKey(known), i);
        }
        foreach (var artifact in given.OfType<JsonObject>())
        {
            var copy = (JsonObject)artifact.DeepClone();
            copy["mode"] ??= "output";
            if (positions.TryGetValue(ArtifactKey(copy), out var at))
            {
                stored[at] = copy;
            }
            else
            {
                positions[ArtifactKey(copy)] = stored.Count;
                stored.Add(copy);
            }
        }
    }

    public static int DeleteArtifacts(JsonObject task, IEnumerable<(string Key, string Mode)> keys)
    {
        if (Json.Get(task, "execution.artifacts") is not JsonArray stored)
            return 0;
        var removed = 0;
        foreach (var (key, mode) in keys)
        {
            var match = stored.OfType<JsonObject>().FirstOrDefault(a =>
                a["key"]?.GetValue<string>() == key && (a["mode"]?.GetValue<string>() ?? "output") == mode);
            if (match is not null && stored.Remove(match))
                removed++;
        }
        return removed;
    }

    private static (string?, string) ArtifactKey(JsonObject a) => (a["key"]?.GetValue<string>(), a["mode"]?.GetValue<string>() ?? "output");
}
