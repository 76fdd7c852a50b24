using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client.Datasets;

/// <summary>
/// The two configuration texts a version carries for people and lineage views: "Dataset Struct" (the version graph
/// as nodes keyed <c>"0"</c>, <c>"1"</c>, ..., this version first, parents by key) and "Dataset Content" (a CSV listing).
/// </summary>
internal static class DatasetReports
{
    private const int MaxListedFiles = 15_000;

    /// <summary>The "Dataset Struct" JSON: one node per version of the graph and per parent it names.</summary>
    /// <param name="selfId">This version.</param>
    /// <param name="graph">Version → direct parents.</param>
    /// <param name="taskOf">The task document of a version (fields name, status, last_update, runtime), or null when unknown.</param>
    public static string Structure(string selfId, IReadOnlyDictionary<string, List<string>> graph, Func<string, JsonObject?> taskOf)
    {
        var ids = new List<string> { selfId };
        foreach (var id in graph.Keys.Concat(graph.Values.SelectMany(p => p)))
            if (!ids.Contains(id))
                ids.Add(id);
        var index = ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i.ToString(CultureInfo.InvariantCulture), StringComparer.Ordinal);
        var nodes = new JsonObject();
        foreach (var id in ids)
        {
            var task = taskOf(id);
            nodes[index[id]] = new JsonObject
            {
                ["job_id"] = id,
                ["status"] = task.Str("status"),
                ["last_update"] = task.Time("last_update")?.ToUnixTimeSeconds(),
                ["parents"] = (graph.TryGetValue(id, out var parents) ? parents : []).Select(p => index[p]).ToJsonArray(),
                ["job_size"] = task.Long("runtime.ds_total_size"),
                ["name"] = task.Str("name"),
                ["version"] = task.Str("runtime.version"),
            };
        }
        return nodes.ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 2 });
    }

    /// <summary>The "Dataset Content" CSV: a header with the counts and total size, then <c>path, size, sha256</c> per file (the first 15,000).</summary>
    public static string Content(DatasetManifest manifest)
    {
        var text = new StringBuilder();
        var counts = manifest.Links.Count == 0 ? $"{manifest.Files.Count} files" : $"{manifest.Files.Count} files + {manifest.Links.Count} links";
        text.Append(CultureInfo.InvariantCulture, $"File Name ({counts}), File Size (total {DatasetVersion.FormatSize(manifest.TotalSize)}), Hash (SHA2)");
        var rows = manifest.Files.Values.OrderBy(f => f.RelativePath, StringComparer.Ordinal).Select(f => $"{f.RelativePath}, {f.Size}, {f.Hash}")
            .Concat(manifest.Links.Values.OrderBy(l => l.Link, StringComparer.Ordinal).Select(l => $"{l.Link}, {l.Size}, {l.Hash}"));
        foreach (var row in rows.Take(MaxListedFiles))
            text.Append('\n').Append(row);
        return text.ToString();
    }
}
