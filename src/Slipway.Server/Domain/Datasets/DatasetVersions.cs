using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Domain.Datasets;

/// <summary>
/// What the SDK records on a dataset version's task, read without opening its files: sizes and counts in
/// <c>runtime</c> (ds_*), the version in <c>runtime.version</c>, and the version graph in the "Dataset
/// Struct" configuration (entries keyed by index, "0" being the version itself, parents by index).
/// </summary>
public static class DatasetVersions
{
    public const string Tag = "dataset";

    public static JsonObject Describe(JsonObject task)
    {
        var runtime = task["runtime"] as JsonObject ?? [];
        long? Number(string key) => Json.GetLong(runtime[key]);
        return new JsonObject
        {
            ["id"] = task["id"]?.DeepClone(),
            ["name"] = task["name"]?.DeepClone(),
            ["version"] = Json.GetString(task, "runtime.version"),
            ["status"] = task["status"]?.DeepClone(),
            ["created"] = task["created"]?.DeepClone(),
            ["last_update"] = task["last_update"]?.DeepClone(),
            ["tags"] = task["tags"]?.DeepClone(),
            ["parents"] = new JsonArray(Graph(task).GetValueOrDefault(Json.GetString(task, "id") ?? "")?.Parents.Select(p => (JsonNode)p).ToArray() ?? []),
            ["file_count"] = Number("ds_file_count"),
            ["link_count"] = Number("ds_link_count"),
            ["total_size"] = Number("ds_total_size"),
            ["total_size_compressed"] = Number("ds_total_size_compressed"),
            ["changes"] = new JsonObject
            {
                ["added"] = Number("ds_change_add"),
                ["removed"] = Number("ds_change_remove"),
                ["modified"] = Number("ds_change_modify"),
                ["size"] = Number("ds_change_size"),
            },
        };
    }

    public sealed record Node(string Id, string? Name, string? Version, string? Status, long? Size, IReadOnlyList<string> Parents);

    /// <summary>The version graph the SDK wrote into "Dataset Struct", by version id; empty when absent or unreadable.</summary>
    public static Dictionary<string, Node> Graph(JsonObject task)
    {
        var nodes = new Dictionary<string, Node>();
        if (Json.Get(task, "configuration.Dataset Struct.value") is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
            return nodes;
        JsonObject? structure;
        try
        {
            structure = JsonNode.Parse(value.GetValue<string>()) as JsonObject;
        }
        catch (JsonException)
        {
            return nodes;
        }
        if (structure is null)
            return nodes;
        string? IdOf(string index) => structure[index] is JsonObject entry ? Json.GetString(entry, "job_id") : null;
        foreach (var (_, entryNode) in structure)
        {
            if (entryNode is not JsonObject entry || Json.GetString(entry, "job_id") is not { } id)
                continue;
            var parents = (entry["parents"] as JsonArray ?? []).Select(p => p is JsonValue v && v.TryGetValue(out string? index) ? IdOf(index) : null)
                .OfType<string>().ToList();
            nodes[id] = new Node(id, Json.GetString(entry, "name"), Json.GetString(entry, "version"), Json.GetString(entry, "status"),
                Json.GetLong(entry["job_size"]), parents);
        }
        return nodes;
    }
}
