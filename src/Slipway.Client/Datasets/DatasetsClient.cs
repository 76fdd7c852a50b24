using System.Text.Json.Nodes;

namespace Slipway.Client.Datasets;

/// <summary>
/// Dataset versions, stored the way the ClearML Python SDK stores them (a task per version in the hidden project
/// <c>&lt;project&gt;/.datasets/&lt;name&gt;</c>, a <c>state.json</c> manifest and zip chunks on the file server), so
/// versions written here are read by the SDK and the other way round. Create a version, add and remove files,
/// upload, finalize; get a version by id or by name, list, diff, and assemble local copies.
/// </summary>
public sealed class DatasetsClient
{
    private const int PageSize = 500;
    private readonly SlipwayClient _client;

    internal DatasetsClient(SlipwayClient client) => _client = client;

    internal SlipwayClient Client => _client;

    /// <summary>
    /// Creates a new version of the dataset <paramref name="name"/> in <paramref name="project"/> (both are created
    /// when missing), starting from the parents' files if any. The version is open for changes until finalized.
    /// </summary>
    /// <exception cref="SlipwayException">A parent does not exist or is not finalized, or the server refused a call.</exception>
    public async Task<DatasetVersion> CreateAsync(string project, string name, DatasetCreateOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(project);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        options ??= new DatasetCreateOptions();
        project = project.Trim('/');
        var parents = new List<DatasetVersion>();
        foreach (var parentId in options.Parents ?? [])
        {
            var parent = await GetAsync(parentId, cancellationToken).ConfigureAwait(false);
            if (!parent.IsFinal)
                throw new SlipwayException($"the parent version {parentId} is not finalized (status {parent.Status}); finalize it before deriving from it");
            parents.Add(parent);
        }

        await EnsureProjectAsync(DatasetNaming.DatasetsFolder(project), [DatasetNaming.HiddenTag], cancellationToken).ConfigureAwait(false);
        var projectName = DatasetNaming.VersionsProject(project, name);
        var projectId = await EnsureProjectAsync(projectName, [DatasetNaming.HiddenTag, DatasetNaming.DatasetTag], cancellationToken).ConfigureAwait(false);
        var version = options.Version?.Trim() is { Length: > 0 } asked ? asked : await NextVersionAsync(projectId, name, cancellationToken).ConfigureAwait(false);

        var body = new JsonObject
        {
            ["name"] = name,
            ["project"] = projectId,
            ["type"] = DatasetNaming.TaskType,
            ["system_tags"] = new JsonArray(DatasetNaming.DatasetTag),
            ["comment"] = options.Description ?? "",
            ["output_dest"] = _client.Options.EffectiveFilesServer.ToString().TrimEnd('/'),
        };
        if (options.Tags is { Count: > 0 } tags)
            body["tags"] = tags.ToJsonArray();
        var created = await _client.CallAsync("tasks.create", body, cancellationToken).ConfigureAwait(false);
        var id = created.Str("id") ?? throw new SlipwayException("tasks.create: the answer has no id");
        await _client.CallAsync("tasks.started", new JsonObject { ["task"] = id }, cancellationToken).ConfigureAwait(false);
        await _client.CallAsync("tasks.edit_hyper_params", new JsonObject
        {
            ["task"] = id,
            ["hyperparams"] = new JsonArray(new JsonObject { ["section"] = "properties", ["name"] = "version", ["value"] = version, ["type"] = "str" }),
            ["replace_hyperparams"] = "none",
            ["force"] = true,
        }, cancellationToken).ConfigureAwait(false);

        var manifest = new DatasetManifest(id);
        foreach (var parent in parents)
        {
            foreach (var (path, file) in parent.Manifest.Files)
                manifest.Files[path] = file;
            foreach (var (path, link) in parent.Manifest.Links)
                manifest.Links[path] = link;
            foreach (var (node, nodeParents) in parent.Manifest.Graph)
                manifest.Graph[node] = [.. nodeParents];
        }
        manifest.Graph[id] = parents.Select(p => p.Id).Distinct(StringComparer.Ordinal).ToList();
        var runtime = new JsonObject { ["orig_dataset_name"] = name, ["orig_dataset_id"] = id, ["version"] = version };
        var task = new TaskInfo
        {
            Id = id, Name = name, Status = "in_progress", Type = DatasetNaming.TaskType, ProjectId = projectId, Tags = options.Tags ?? [],
            SystemTags = [DatasetNaming.DatasetTag], Comment = options.Description, Raw = new JsonObject { ["runtime"] = runtime },
        };
        var result = new DatasetVersion(this, task, project, name, projectName, manifest) { ParentsForChanges = parents };
        await result.WriteStateAsync(withChunkLookup: false, cancellationToken).ConfigureAwait(false);
        await result.WriteStructureAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Reads a version (its task and manifest) by id.</summary>
    /// <exception cref="SlipwayException">There is no such task, or it is not a dataset version.</exception>
    public async Task<DatasetVersion> GetAsync(string versionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(versionId);
        TaskInfo task;
        try
        {
            task = await _client.Tasks.GetAsync(versionId, cancellationToken).ConfigureAwait(false);
        }
        catch (SlipwayException e) when (e.ResultCode == 400 && e.ResultSubcode == 101)
        {
            throw new SlipwayException($"there is no dataset version with id '{versionId}'", e);
        }
        if (!task.SystemTags.Contains(DatasetNaming.DatasetTag))
            throw new SlipwayException($"task {versionId} ('{task.Name}') is not a dataset version");
        var projectName = task.ProjectId is { Length: > 0 } pid ? (await _client.Projects.GetAsync(pid, cancellationToken).ConfigureAwait(false)).Name : "";
        var (project, name) = DatasetNaming.SplitVersionsProject(projectName) ?? (projectName, task.Name);
        var manifest = await ReadManifestAsync(task, cancellationToken).ConfigureAwait(false);
        return new DatasetVersion(this, task, project, name, projectName, manifest);
    }

    /// <summary>
    /// Reads the version of a dataset by project and name: the one with <paramref name="version"/>, or else the highest
    /// version (the most recently updated one when versions tie or do not parse). Only finalized versions are
    /// considered unless <paramref name="includeUnfinished"/>.
    /// </summary>
    /// <exception cref="SlipwayException">No such dataset or version.</exception>
    public async Task<DatasetVersion> GetAsync(string project, string name, string? version = null, bool includeUnfinished = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(project);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var versions = (await ListVersionsAsync(project, name, cancellationToken).ConfigureAwait(false))
            .Where(v => includeUnfinished || v.IsFinal)
            .OrderByDescending(v => v.LastUpdate ?? DateTimeOffset.MinValue)
            .ToList();
        DatasetVersionInfo? chosen;
        if (version is not null)
        {
            chosen = versions.FirstOrDefault(v => v.Version == version);
        }
        else
        {
            var at = DatasetVersionNumber.IndexOfLatest(versions.Select(v => v.Version).ToList());
            chosen = at < 0 ? null : versions[at];
        }
        if (chosen is null)
            throw new SlipwayException($"there is no {(includeUnfinished ? "" : "finalized ")}version{(version is null ? "" : $" '{version}'")} of the dataset '{name}' in project '{project}'");
        return await GetAsync(chosen.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lists the versions of one dataset, oldest first (archived ones left out); empty when the dataset does not exist.</summary>
    public async Task<IReadOnlyList<DatasetVersionInfo>> ListVersionsAsync(string project, string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(project);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var projectName = DatasetNaming.VersionsProject(project.Trim('/'), name);
        var found = await _client.Projects.FindAsync(projectName, cancellationToken).ConfigureAwait(false);
        if (found is null)
            return [];
        var tasks = await QueryVersionsAsync(new JsonObject { ["project"] = new JsonArray(found.Id), ["name"] = JsonRead.ExactName(name) }, cancellationToken).ConfigureAwait(false);
        return tasks.Select(t => Describe(t, project.Trim('/'), name)).OrderBy(v => v.Created ?? DateTimeOffset.MinValue).ToList();
    }

    /// <summary>Lists datasets (optionally only those of <paramref name="project"/>), with their versions, by project and name.</summary>
    public async Task<IReadOnlyList<DatasetInfo>> ListAsync(string? project = null, CancellationToken cancellationToken = default)
    {
        var tasks = await QueryVersionsAsync([], cancellationToken).ConfigureAwait(false);
        var projectIds = tasks.Select(t => t.Str("project")).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        if (projectIds.Count > 0)
        {
            var data = await _client.CallAsync("projects.get_all", new JsonObject
            {
                ["id"] = projectIds.ToJsonArray(),
                ["search_hidden"] = true,
                ["only_fields"] = new JsonArray("id", "name"),
                ["page_size"] = projectIds.Count,
            }, cancellationToken).ConfigureAwait(false);
            foreach (var p in data["projects"] as JsonArray ?? [])
                if (p.Str("id") is { } pid && p.Str("name") is { } pname)
                    names[pid] = pname;
        }
        var prefix = project?.Trim('/');
        return tasks
            .Select(t => (Task: t, Split: names.TryGetValue(t.Str("project") ?? "", out var n) ? DatasetNaming.SplitVersionsProject(n) : null))
            .Where(x => x.Split is not null && (prefix is null || x.Split.Value.Project == prefix))
            .GroupBy(x => x.Split!.Value)
            .OrderBy(g => g.Key.Project, StringComparer.Ordinal).ThenBy(g => g.Key.Name, StringComparer.Ordinal)
            .Select(g => new DatasetInfo(g.Key.Project, g.Key.Name,
                g.Select(x => Describe(x.Task, g.Key.Project, g.Key.Name)).OrderBy(v => v.Created ?? DateTimeOffset.MinValue).ToList()))
            .ToList();
    }

    /// <summary>
    /// Merges finalized versions into one new version of <paramref name="name"/> with no parents, as clearml-data's
    /// <c>squash</c> does: their files (a later version's file wins on the same path) and links are fetched, checked
    /// against their hashes, uploaded again as the new version's own chunks, and the new version is finalized. The
    /// sources are left as they are; the new one no longer depends on them.
    /// </summary>
    /// <param name="project">The project of the new version.</param>
    /// <param name="name">The dataset the new version belongs to.</param>
    /// <param name="versionIds">The versions to merge, in order (at least two).</param>
    /// <param name="options">Version string, tags, description; chunking; the cache the sources are fetched into.</param>
    /// <param name="progress">Receives file bytes fetched, then uploaded.</param>
    /// <param name="cancellationToken">Cancels the squash (the new version stays open, with what it had, and can be deleted).</param>
    /// <exception cref="SlipwayException">Fewer than two versions, a version that does not exist or is not finalized, or a failed transfer.</exception>
    public async Task<DatasetVersion> SquashAsync(string project, string name, IReadOnlyList<string> versionIds, DatasetSquashOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(versionIds);
        options ??= new DatasetSquashOptions();
        if (versionIds.Distinct(StringComparer.Ordinal).Count() < 2)
            throw new SlipwayException("squash needs at least two different versions");
        var sources = new List<DatasetVersion>();
        foreach (var id in versionIds)
        {
            var source = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (!source.IsFinal)
                throw new SlipwayException($"version {id} is not finalized (status {source.Status}); only finalized versions can be squashed");
            sources.Add(source);
        }
        var squashed = await CreateAsync(project, name, new DatasetCreateOptions
        {
            Version = options.Version,
            Tags = options.Tags,
            Description = options.Description ?? $"Squashed from {string.Join(", ", sources.Select(v => v.Id))}",
        }, cancellationToken).ConfigureAwait(false);
        foreach (var source in sources)
        {
            var copy = await source.GetLocalCopyAsync(new LocalCopyOptions { CacheDirectory = options.CacheDirectory }, progress, cancellationToken).ConfigureAwait(false);
            await squashed.AddFilesAsync(copy.CachePath, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var path in source.Manifest.Files.Keys)
                squashed.Manifest.Links.Remove(path);
            foreach (var (path, link) in source.Manifest.Links)
            {
                squashed.Manifest.Files.Remove(path);
                squashed.Manifest.Links[path] = link with { SourceVersionId = squashed.Id };
            }
        }
        await squashed.UploadAsync(options.Upload, progress, cancellationToken).ConfigureAwait(false);
        await squashed.FinalizeAsync(cancellationToken).ConfigureAwait(false);
        return squashed;
    }

    /// <summary>Compares two versions' manifests: files added, removed and modified (by content hash) going from one to the other.</summary>
    /// <exception cref="SlipwayException">A version does not exist.</exception>
    public async Task<DatasetDiff> DiffAsync(string fromVersionId, string toVersionId, CancellationToken cancellationToken = default)
    {
        var from = await GetAsync(fromVersionId, cancellationToken).ConfigureAwait(false);
        var to = await GetAsync(toVersionId, cancellationToken).ConfigureAwait(false);
        return DatasetVersion.Diff(from.Id, from.Manifest.Files, to.Id, to.Manifest.Files);
    }

    /// <summary>
    /// Assembles a finalized version in the local cache (see <see cref="DatasetVersion.GetLocalCopyAsync"/>). A whole
    /// cached copy is returned without contacting the server at all.
    /// </summary>
    /// <exception cref="SlipwayException">The version does not exist or is not finalized, or a file cannot be fetched or does not match.</exception>
    public async Task<DatasetLocalCopy> GetLocalCopyAsync(string versionId, LocalCopyOptions? options = null, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(versionId);
        options ??= new LocalCopyOptions();
        if (await LocalCopier.TryFromCacheAsync(this, versionId, options, cancellationToken).ConfigureAwait(false) is { } cached)
            return cached;
        var version = await GetAsync(versionId, cancellationToken).ConfigureAwait(false);
        return await version.GetLocalCopyAsync(options, progress, cancellationToken).ConfigureAwait(false);
    }

    internal string CacheRoot(LocalCopyOptions options) =>
        options.CacheDirectory ?? _client.Options.DatasetCacheDirectory ?? ClientOptions.DefaultCacheFolder("datasets");

    /// <summary>Downloads and parses a version's manifest; a version without one (nothing written yet) is empty.</summary>
    internal async Task<DatasetManifest> ReadManifestAsync(TaskInfo task, CancellationToken ct)
    {
        if (!task.Artifacts.TryGetValue(DatasetNaming.StateKey, out var state) || string.IsNullOrEmpty(state.Uri))
            return new DatasetManifest(task.Id) { Graph = { [task.Id] = [] } };
        if (!Uri.TryCreate(state.Uri, UriKind.Absolute, out var url))
            throw new SlipwayException($"the manifest URL of dataset version {task.Id} is not a URL: '{state.Uri}'");
        using var buffer = new MemoryStream();
        await using (var stream = await _client.Files.OpenReadAsync(url, ct).ConfigureAwait(false))
            await stream.CopyToAsync(buffer, ct).ConfigureAwait(false);
        return DatasetManifest.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), task.Id);
    }

    /// <summary>Reads tasks by id with the given fields (hidden ones included); missing ids are simply absent.</summary>
    internal async Task<Dictionary<string, JsonObject>> GetTasksAsync(IEnumerable<string> ids, IReadOnlyList<string> fields, CancellationToken ct)
    {
        var list = ids.Distinct(StringComparer.Ordinal).ToList();
        var result = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var batch in list.Chunk(PageSize))
        {
            var data = await _client.CallAsync("tasks.get_all", new JsonObject
            {
                ["id"] = batch.ToJsonArray(),
                ["only_fields"] = fields.Append("id").Distinct().ToJsonArray(),
                ["search_hidden"] = true,
                ["page_size"] = batch.Length,
            }, ct).ConfigureAwait(false);
            foreach (var t in (data["tasks"] as JsonArray ?? []).OfType<JsonObject>())
                if (t.Str("id") is { } id)
                    result[id] = t;
        }
        return result;
    }

    private async Task<List<JsonObject>> QueryVersionsAsync(JsonObject filter, CancellationToken ct)
    {
        var result = new List<JsonObject>();
        for (var page = 0; ; page++)
        {
            var body = (JsonObject)filter.DeepClone();
            body["system_tags"] = new JsonArray("__$all", DatasetNaming.DatasetTag, "__$not", "archived");
            body["type"] = new JsonArray(DatasetNaming.TaskType);
            body["search_hidden"] = true;
            body["only_fields"] = new JsonArray("id", "name", "project", "status", "created", "last_update", "tags", "runtime");
            body["order_by"] = new JsonArray("-last_update");
            body["page"] = page;
            body["page_size"] = PageSize;
            var data = await _client.CallAsync("tasks.get_all", body, ct).ConfigureAwait(false);
            var tasks = (data["tasks"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            result.AddRange(tasks);
            if (tasks.Count < PageSize)
                return result;
        }
    }

    private static DatasetVersionInfo Describe(JsonObject t, string project, string name) => new(
        t.Str("id") ?? "", project, name, t.Str("runtime.version"), t.Str("status") ?? "created", t.Time("created"), t.Time("last_update"),
        t.Strings("tags"), t.Long("runtime.ds_file_count"), t.Long("runtime.ds_total_size"));

    /// <summary>The next version after the latest of this dataset, or <see cref="DatasetVersionNumber.First"/>.</summary>
    private async Task<string> NextVersionAsync(string projectId, string name, CancellationToken ct)
    {
        var tasks = await QueryVersionsAsync(new JsonObject { ["project"] = new JsonArray(projectId), ["name"] = JsonRead.ExactName(name) }, ct).ConfigureAwait(false);
        var versions = tasks.Select(t => t.Str("runtime.version")).ToList();
        var at = DatasetVersionNumber.IndexOfLatest(versions);
        return at >= 0 && DatasetVersionNumber.TryParse(versions[at]) is { } latest ? latest.Next().ToString() : DatasetVersionNumber.First;
    }

    private async Task<string> EnsureProjectAsync(string name, IReadOnlyList<string> systemTags, CancellationToken ct)
    {
        if (await _client.Projects.FindAsync(name, ct).ConfigureAwait(false) is { } existing)
        {
            if (!systemTags.All(existing.SystemTags.Contains))
                await _client.Projects.SetSystemTagsAsync(existing.Id, existing.SystemTags.Union(systemTags).ToList(), ct).ConfigureAwait(false);
            return existing.Id;
        }
        return await _client.Projects.GetOrCreateAsync(name, systemTags, ct).ConfigureAwait(false);
    }
}
