using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client.Datasets;

/// <summary>
/// A version's manifest, the <c>state</c> artifact (<c>state.json</c>): every file of the full version (inherited
/// ones included) with the version and chunk that hold its bytes, external links, and the version graph.
/// Written the way the Python SDK reads it: only the keys its entry types accept, sizes as integers, ASCII only.
/// </summary>
internal sealed class DatasetManifest
{
    public DatasetManifest(string id) => Id = id;

    public string Id { get; }

    public Dictionary<string, DatasetFile> Files { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, DatasetLink> Links { get; } = new(StringComparer.Ordinal);

    /// <summary>Version id → its direct parents, for this version and every ancestor whose chunks hold some of its files.</summary>
    public Dictionary<string, List<string>> Graph { get; } = new(StringComparer.Ordinal);

    public bool Dirty { get; set; }

    /// <summary>
    /// Local paths of files added but not uploaded yet (written as <c>local_path</c>, as the SDK does), so that a
    /// later process, e.g. <c>slipway dataset upload</c>, can upload what an earlier <c>add</c> recorded.
    /// </summary>
    public Dictionary<string, string> LocalPaths { get; } = new(StringComparer.Ordinal);

    /// <summary>Version id → number of chunks; written by finalize.</summary>
    public Dictionary<string, int>? ChunkLookup { get; set; }

    public long TotalSize => Files.Values.Sum(f => f.Size) + Links.Values.Sum(l => l.Size ?? 0);

    /// <summary>Reads a manifest; keys that are missing take the defaults the SDK uses.</summary>
    /// <exception cref="SlipwayException">The text is not a manifest.</exception>
    public static DatasetManifest Parse(ReadOnlySpan<byte> json, string versionId)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw new SlipwayException($"the manifest (state.json) of dataset version {versionId} is not valid JSON: {e.Message}", e);
        }
        var manifest = new DatasetManifest(versionId) { Dirty = root.Bool("dirty") ?? false };
        foreach (var entry in root["dataset_file_entries"] as JsonArray ?? [])
        {
            var path = entry.Str("relative_path") ?? throw new SlipwayException($"the manifest of dataset version {versionId} has a file entry without relative_path");
            manifest.Files[path] = new DatasetFile(path, entry.Str("hash") ?? "", entry.Long("size") ?? 0, entry.Str("parent_dataset_id") ?? versionId, entry.Str("artifact_name"));
            if (entry.Str("local_path") is { Length: > 0 } local)
                manifest.LocalPaths[path] = local;
        }
        foreach (var entry in root["dataset_link_entries"] as JsonArray ?? [])
        {
            var path = entry.Str("relative_path") ?? throw new SlipwayException($"the manifest of dataset version {versionId} has a link entry without relative_path");
            manifest.Links[path] = new DatasetLink(path, entry.Str("link") ?? "", entry.Long("size"), entry.Str("parent_dataset_id") ?? versionId, entry.Str("hash"));
        }
        if (root["dependency_graph"] is JsonObject graph)
            foreach (var (id, parents) in graph)
                manifest.Graph[id] = parents is JsonArray list ? list.OfType<JsonValue>().Where(v => v.GetValueKind() == JsonValueKind.String).Select(v => v.GetValue<string>()).ToList() : [];
        if (!manifest.Graph.ContainsKey(versionId))
            manifest.Graph[versionId] = [];
        if (root["dependency_chunk_lookup"] is JsonObject lookup)
            manifest.ChunkLookup = lookup.Where(p => p.Value is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
                .ToDictionary(p => p.Key, p => (int)p.Value!.GetValue<double>(), StringComparer.Ordinal);
        return manifest;
    }

    /// <summary>Writes <c>state.json</c>: keys sorted, indented, non-ASCII escaped as <c>\uXXXX</c>.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        // The default encoder escapes every non-ASCII character, which the SDK's locale-dependent text read needs.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, IndentSize = 4, Encoder = JavaScriptEncoder.Default }))
        {
            w.WriteStartObject();
            w.WriteStartArray("dataset_file_entries");
            foreach (var f in Files.Values.OrderBy(f => f.RelativePath, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                w.WriteString("artifact_name", f.ChunkName);
                w.WriteString("hash", f.Hash);
                if (LocalPaths.TryGetValue(f.RelativePath, out var local))
                    w.WriteString("local_path", local);
                w.WriteString("parent_dataset_id", f.SourceVersionId);
                w.WriteString("relative_path", f.RelativePath);
                w.WriteNumber("size", f.Size);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("dataset_link_entries");
            foreach (var l in Links.Values.OrderBy(l => l.RelativePath, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                if (l.Hash is not null)
                    w.WriteString("hash", l.Hash);
                w.WriteString("link", l.Link);
                w.WriteString("parent_dataset_id", l.SourceVersionId);
                w.WriteString("relative_path", l.RelativePath);
                if (l.Size is { } size)
                    w.WriteNumber("size", size);
                else
                    w.WriteNull("size");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (ChunkLookup is not null)
            {
                w.WriteStartObject("dependency_chunk_lookup");
                foreach (var (id, count) in ChunkLookup.OrderBy(p => p.Key, StringComparer.Ordinal))
                    w.WriteNumber(id, count);
                w.WriteEndObject();
            }
            w.WriteStartObject("dependency_graph");
            foreach (var (id, parents) in Graph.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                w.WriteStartArray(id);
                foreach (var p in parents)
                    w.WriteStringValue(p);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteBoolean("dirty", Dirty);
            w.WriteNumber("file_count", Files.Count + Links.Count);
            w.WriteString("id", Id);
            w.WriteNumber("total_size", TotalSize);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Drops graph entries of versions no file or link comes from any more (and those ids from parent lists),
    /// keeping this version and its full list of direct parents, as the SDK does before every write.
    /// </summary>
    public void PruneGraph()
    {
        var used = new HashSet<string>(Files.Values.Select(f => f.SourceVersionId).Concat(Links.Values.Select(l => l.SourceVersionId)), StringComparer.Ordinal) { Id };
        var own = Graph.TryGetValue(Id, out var parents) ? parents : [];
        foreach (var id in Graph.Keys.ToList())
        {
            if (!used.Contains(id))
                Graph.Remove(id);
            else
                Graph[id] = Graph[id].Where(used.Contains).ToList();
        }
        Graph[Id] = own;
    }
}
