using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Blobs;
using Slipway.Server.Core;
using Slipway.Server.Domain.Datasets;
using Slipway.Server.Domain.Projects;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Api;

/// <summary>
/// datasets.* (a Slipway extension; the SDK keeps datasets as tasks in hidden "&lt;project&gt;/.datasets/&lt;name&gt;"
/// projects): lists datasets, their versions with sizes and file counts, a version's lineage and its file list, for the
/// UI and CLI, without downloading any chunk.
/// </summary>
public sealed class DatasetsApi(IDocumentStore docs, AccessControl access, IBlobStore blobs, FilesPort filesPort)
{
    private const string Marker = "/.datasets/";

    public void Map(RpcRouter router)
    {
        router.Add("datasets.get_all", GetAll, "name project search_text include_archived include_versions");
        router.Add("datasets.get_versions", GetVersions, "dataset include_archived");
        router.Add("datasets.get_lineage", GetLineage, "version");
        router.Add("datasets.get_files", GetFiles, "version");
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var query = new DocQuery { OrderBy = { new SortKey("name", false) } }.Where(new TagMatch("system_tags", TagQuery.Parse([DatasetVersions.Tag])));
        query.Where(await access.VisibleAsync(call.Caller, Collection.Projects, call.Aborted));
        if (call.String("project") is { Length: > 0 } ownerProject)
            query.Where(new FieldStartsWith("name", ProjectPaths.Normalize(ownerProject) + Marker));
        var projects = (await docs.FindAsync<ProjectDocument>(query, call.Aborted))
            .Where(p => (p.Name ?? "").Contains(Marker, StringComparison.Ordinal)).ToList();
        var name = call.String("name") is { Length: > 0 } pattern ? ListRequest.Pattern(pattern, "name") : null;
        var text = call.String("search_text") is { } searchText ? RequestLimits.CheckLength("search_text", searchText, RequestLimits.MaxSearchText) : null;
        var versions = (await VersionsAsync(projects.Select(p => p.Id).ToList(), call.Bool("include_archived"), call.Aborted))
            .ToLookup(v => Json.GetString(v, "project"));
        var result = new JsonArray();
        foreach (var project in projects)
        {
            var full = project.Name!;
            var at = full.LastIndexOf(Marker, StringComparison.Ordinal);
            var (owner, dataset) = (full[..at], full[(at + Marker.Length)..]);
            if (name is not null && !name.IsMatch(dataset))
                continue;
            if (!string.IsNullOrEmpty(text) && !full.Contains(text, StringComparison.OrdinalIgnoreCase))
                continue;
            var mine = versions[project.Id].ToList();
            var latest = mine.OrderByDescending(v => Json.GetString(v, "created"), StringComparer.Ordinal).FirstOrDefault();
            var entry = new JsonObject
            {
                ["id"] = project.Id,
                ["name"] = dataset,
                ["project"] = owner,
                ["versions"] = mine.Count,
                ["last_update"] = latest?["last_update"]?.DeepClone(),
                ["latest"] = latest is null ? null : DatasetVersions.Describe(latest),
            };
            // With include_versions, every version as datasets.get_versions gives them: a list page needs one call, not one per dataset.
            if (call.Bool("include_versions"))
                entry["all_versions"] = Described(mine);
            result.Add(entry);
        }
        return new JsonObject { ["datasets"] = result };
    }

    private async ValueTask<JsonNode?> GetVersions(RpcCall call)
    {
        var dataset = call.RequireString("dataset");
        if (await docs.GetAsync(Collection.Projects, dataset, call.Aborted) is null)
            throw ApiException.InvalidProjectId(dataset);
        var versions = await VersionsAsync([dataset], call.Bool("include_archived"), call.Aborted);
        return new JsonObject { ["versions"] = Described(versions) };
    }

    /// <summary>Versions described, oldest first.</summary>
    private static JsonArray Described(IEnumerable<JsonObject> versions) =>
        new(versions.OrderBy(v => Json.GetString(v, "created"), StringComparer.Ordinal).Select(v => (JsonNode)DatasetVersions.Describe(v)).ToArray());

    /// <summary>The version and all its ancestors, as the SDK's version graph names them (with what the server knows of each).</summary>
    private async ValueTask<JsonNode?> GetLineage(RpcCall call)
    {
        var id = call.RequireString("version");
        var task = await DatasetVersionAsync(id, call.Aborted);
        var graph = DatasetVersions.Graph(task.Body);
        var ancestors = new JsonArray();
        var seen = new HashSet<string>();
        var next = new Queue<string>([id]);
        while (next.TryDequeue(out var current))
        {
            if (!seen.Add(current))
                continue;
            var node = graph.GetValueOrDefault(current);
            var stored = await docs.GetAsync(Collection.Tasks, current, call.Aborted);
            var entry = stored is not null ? DatasetVersions.Describe(stored.Body) : new JsonObject
            {
                ["id"] = current, ["name"] = node?.Name, ["version"] = node?.Version, ["status"] = node?.Status, ["total_size"] = node?.Size,
            };
            entry["parents"] = new JsonArray((node?.Parents ?? []).Select(p => (JsonNode)p).ToArray());
            entry["deleted"] = stored is null;
            ancestors.Add(entry);
            foreach (var parent in node?.Parents ?? [])
                next.Enqueue(parent);
        }
        return new JsonObject { ["version"] = id, ["lineage"] = ancestors };
    }

    /// <summary>
    /// The version's files and links from its manifest, each with the version that holds its bytes. A manifest this server
    /// cannot read (not written yet, kept in an outside bucket, too large) answers no files and the reason.
    /// </summary>
    private async ValueTask<JsonNode?> GetFiles(RpcCall call)
    {
        var task = await DatasetVersionAsync(call.RequireString("version"), call.Aborted);
        var (manifest, problem) = await DatasetManifest.ReadAsync(task.Body, blobs, filesPort, call.Aborted);
        static JsonArray Entries(IEnumerable<DatasetManifest.Entry> entries) => new(entries.Select(e => (JsonNode)new JsonObject
        {
            ["path"] = e.Path, ["size"] = e.Size, ["hash"] = e.Hash, ["source"] = e.Source, ["link"] = e.Link,
        }).ToArray());
        return new JsonObject
        {
            ["version"] = task.Id,
            ["files"] = Entries(manifest?.Files ?? []),
            ["links"] = Entries(manifest?.Links ?? []),
            ["unavailable"] = problem,
        };
    }

    private async Task<StoredDoc> DatasetVersionAsync(string id, CancellationToken ct)
    {
        var task = await docs.GetAsync(Collection.Tasks, id, ct) ?? throw ApiException.InvalidTaskId(id);
        if (!Json.GetStrings(task.Body, "system_tags").Contains(DatasetVersions.Tag))
            throw ApiException.Validation($"task {id} is not a dataset version");
        return task;
    }

    private async Task<List<JsonObject>> VersionsAsync(IReadOnlyList<string> projects, bool includeArchived, CancellationToken ct)
    {
        if (projects.Count == 0)
            return [];
        var tags = includeArchived ? new[] { DatasetVersions.Tag } : ["__$all", DatasetVersions.Tag, "__$not", "archived"];
        var query = new DocQuery().Where(new FieldIn("project", projects)).Where(new TagMatch("system_tags", TagQuery.Parse(tags)));
        return (await docs.FindAsync(Collection.Tasks, query, ct)).Select(t => t.Body).ToList();
    }
}
