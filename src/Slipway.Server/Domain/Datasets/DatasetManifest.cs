using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Blobs;
using Slipway.Server.Core;
using Slipway.Server.Domain.StoredFiles;

namespace Slipway.Server.Domain.Datasets;

/// <summary>
/// A dataset version's file list, read from its manifest: the "state" artifact (<c>state.json</c>, as the SDK writes
/// it) on this server's file server, opened straight from the blob store. A manifest elsewhere (an external bucket)
/// is not read; the reason says so.
/// </summary>
public sealed record DatasetManifest(IReadOnlyList<DatasetManifest.Entry> Files, IReadOnlyList<DatasetManifest.Entry> Links)
{
    /// <summary>Manifests larger than this are not parsed (millions of files).</summary>
    public const long MaxBytes = 64L * 1024 * 1024;

    /// <param name="Source">The version that holds the file's bytes (an ancestor for inherited files).</param>
    /// <param name="Link">For external links, where the file is.</param>
    public sealed record Entry(string Path, long? Size, string Hash, string Source, string? Link);

    /// <summary>The manifest of <paramref name="task"/> (a dataset version's task document), or why there is none.</summary>
    public static async Task<(DatasetManifest? Manifest, string? Problem)> ReadAsync(JsonObject task, IBlobStore blobs, FilesPort filesPort, CancellationToken ct)
    {
        var state = (Json.Get(task, "execution.artifacts") as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(a => Json.GetString(a, "key") == "state");
        if (state is null || Json.GetString(state, "uri") is not { Length: > 0 } uri)
            return (null, "This version has no file list yet (it is written when files are uploaded).");
        if (FileReferences.ToBlobPath(uri, await filesPort.All) is not { } path)
            return (null, $"The file list is kept outside this server ({uri}).");
        var info = await blobs.StatAsync(path, ct);
        if (info is null)
            return (null, "The file list is missing from the file server.");
        if (info.Length > MaxBytes)
            return (null, $"The file list is too large to read here ({info.Length / (1024 * 1024)} MiB, over {MaxBytes / (1024 * 1024)} MiB).");
        await using var stream = await blobs.OpenReadAsync(path, ct);
        if (stream is null)
            return (null, "The file list is missing from the file server.");
        try
        {
            var root = await JsonNode.ParseAsync(stream, cancellationToken: ct) as JsonObject ?? [];
            var id = Json.GetString(task, "id") ?? "";
            List<Entry> Read(string key) => (root[key] as JsonArray ?? []).OfType<JsonObject>()
                .Select(e => new Entry(Json.GetString(e, "relative_path") ?? "", Json.GetLong(e["size"]), Json.GetString(e, "hash") ?? "",
                    Json.GetString(e, "parent_dataset_id") ?? id, Json.GetString(e, "link")))
                .Where(e => e.Path.Length > 0).OrderBy(e => e.Path, StringComparer.Ordinal).ToList();
            return (new DatasetManifest(Read("dataset_file_entries"), Read("dataset_link_entries")), null);
        }
        catch (JsonException e)
        {
            return (null, $"The file list is not valid JSON: {e.Message}");
        }
    }
}
