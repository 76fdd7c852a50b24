using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Slipway.Client.Datasets;

/// <summary>
/// One version of a dataset: its files (inherited ones included) and, while it is open (<c>in_progress</c>), the
/// changes made to it: add and remove files, upload them as zip chunks, finalize. A finalized version is read-only;
/// <see cref="GetLocalCopyAsync"/> assembles it on disk. Not thread-safe: change one version from one caller at a time.
/// </summary>
public sealed class DatasetVersion
{
    private readonly DatasetsClient _datasets;
    private readonly SlipwayClient _client;
    private readonly Dictionary<string, PendingFile> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _ownChunks = new(StringComparer.Ordinal);
    private readonly JsonObject _runtime;
    private readonly string _projectId;
    private readonly string _projectName;
    private Uri? _storage;

    internal DatasetVersion(DatasetsClient datasets, TaskInfo task, string project, string name, string projectName, DatasetManifest manifest)
    {
        _datasets = datasets;
        _client = datasets.Client;
        Id = task.Id;
        Project = project;
        Name = name;
        Status = task.Status;
        Tags = task.Tags;
        Description = task.Comment;
        _projectId = task.ProjectId ?? "";
        _projectName = projectName;
        Manifest = manifest;
        _runtime = task.Raw["runtime"] is JsonObject runtime ? (JsonObject)runtime.DeepClone() : [];
        foreach (var (key, artifact) in task.Artifacts)
            if (DatasetNaming.IsChunkKey(key))
                _ownChunks[key] = artifact.Size ?? 0;
        foreach (var (path, local) in manifest.LocalPaths)
            if (manifest.Files.TryGetValue(path, out var file) && file.SourceVersionId == Id && file.ChunkName is null)
                _pending[path] = new PendingFile(path, local, file.Size, file.Hash);
        if (task.Raw.Str("output.destination") is { } destination && Uri.TryCreate(destination, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
            _storage = url;
    }

    /// <summary>The version id (the id of its task).</summary>
    public string Id { get; }

    /// <summary>The project the dataset belongs to.</summary>
    public string Project { get; }

    /// <summary>The dataset's name.</summary>
    public string Name { get; }

    /// <summary>The version string, e.g. <c>1.0.2</c>; null for versions written without one.</summary>
    public string? Version => _runtime.Str("version");

    /// <summary><c>in_progress</c> while open for changes; <c>completed</c> once finalized (or <c>published</c>, <c>closed</c>).</summary>
    public string Status { get; private set; }

    /// <summary>User tags.</summary>
    public IReadOnlyList<string> Tags { get; }

    /// <summary>The description.</summary>
    public string? Description { get; }

    /// <summary>True once finalized: the files can be read, and no longer changed.</summary>
    public bool IsFinal => Status is not ("created" or "in_progress" or "failed");

    /// <summary>The versions this one was derived from (ids).</summary>
    public IReadOnlyList<string> Parents => Manifest.Graph.TryGetValue(Id, out var parents) ? parents : [];

    /// <summary>Every file of the version, by path, inherited and not yet uploaded ones included.</summary>
    public IReadOnlyList<DatasetFile> Files => Manifest.Files.Values.OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList();

    /// <summary>External files the version refers to by URL.</summary>
    public IReadOnlyList<DatasetLink> Links => Manifest.Links.Values.OrderBy(l => l.RelativePath, StringComparer.Ordinal).ToList();

    /// <summary>Paths added or changed since the last upload.</summary>
    public IReadOnlyList<string> PendingFiles => _pending.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>Total bytes of the version's files.</summary>
    public long TotalSize => Manifest.TotalSize;

    internal DatasetManifest Manifest { get; }

    /// <summary>The parents, when already read (a new version has them); otherwise read when first needed.</summary>
    internal IReadOnlyList<DatasetVersion>? ParentsForChanges { get; set; }

    /// <summary>
    /// Adds a file, or the files of a folder (those matching <paramref name="wildcard"/>, in subfolders too when
    /// <paramref name="recursive"/>), under <paramref name="datasetFolder"/> inside the dataset. Each file is hashed
    /// now; one with the same path and content as the version already holds is left as it is.
    /// </summary>
    /// <param name="path">A local file or folder.</param>
    /// <param name="wildcard">Which files of a folder to add, e.g. <c>*.png</c> (matched against file names; a pattern with <c>/</c> against the path below the folder). Default all.</param>
    /// <param name="datasetFolder">Where the files go inside the dataset, e.g. <c>images/train</c>. Default the root.</param>
    /// <param name="recursive">Include subfolders. Default true.</param>
    /// <param name="cancellationToken">Cancels the hashing.</param>
    /// <exception cref="SlipwayException">The path does not exist, or the version is finalized.</exception>
    public async Task<DatasetAddResult> AddFilesAsync(string path, string? wildcard = null, string? datasetFolder = null, bool recursive = true,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        EnsureOpen("add files to");
        var full = Path.GetFullPath(path);
        List<(string Local, string Relative)> found;
        if (File.Exists(full))
        {
            found = [(full, DatasetNaming.RelativePath(datasetFolder, Path.GetFileName(full)))];
        }
        else if (Directory.Exists(full))
        {
            found = [];
            foreach (var file in Directory.EnumerateFiles(full, "*", new EnumerationOptions { RecurseSubdirectories = recursive, AttributesToSkip = 0, IgnoreInaccessible = false }))
            {
                var relative = Path.GetRelativePath(full, file).Replace(Path.DirectorySeparatorChar, '/');
                if (wildcard is null || (wildcard.Contains('/', StringComparison.Ordinal)
                        ? PathPattern.Matches("/" + relative, "*/" + wildcard.TrimStart('/'))
                        : PathPattern.Matches(Path.GetFileName(file), wildcard)))
                    found.Add((file, DatasetNaming.RelativePath(datasetFolder, relative)));
            }
        }
        else
        {
            throw new SlipwayException($"cannot add '{path}' to dataset version {Id}: no such file or folder");
        }

        var hashed = new PendingFile[found.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, found.Count), new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount },
            async (i, ct) =>
            {
                var (local, relative) = found[i];
                try
                {
                    await using var stream = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
                    var hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
                    hashed[i] = new PendingFile(relative, local, stream.Length, hash);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new SlipwayException($"cannot read '{local}': {e.Message}", e);
                }
            }).ConfigureAwait(false);

        int added = 0, modified = 0, unchanged = 0;
        foreach (var file in hashed)
        {
            if (Manifest.Files.TryGetValue(file.RelativePath, out var existing) && existing.Hash == file.Hash)
            {
                if (_pending.ContainsKey(file.RelativePath))
                    _pending[file.RelativePath] = file;
                unchanged++;
                continue;
            }
            if (existing is null)
                added++;
            else
                modified++;
            _pending[file.RelativePath] = file;
            Manifest.Files[file.RelativePath] = new DatasetFile(file.RelativePath, file.Hash, file.Size, Id, null);
        }
        return new DatasetAddResult(added, modified, unchanged);
    }

    /// <summary>
    /// Makes the version's files under <paramref name="datasetFolder"/> (default the root) match a local folder, as
    /// clearml-data's <c>sync</c> does: new and changed files are added (hashed now, uploaded by <see cref="UploadAsync"/>),
    /// and files the folder no longer holds are removed. Files elsewhere in the dataset, and links, are left alone.
    /// </summary>
    /// <exception cref="SlipwayException">The folder does not exist, or the version is finalized.</exception>
    public async Task<DatasetSyncResult> SyncFolderAsync(string folder, string? datasetFolder = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        EnsureOpen("sync");
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
            throw new SlipwayException($"cannot sync dataset version {Id} with '{folder}': no such folder");
        var added = await AddFilesAsync(full, datasetFolder: datasetFolder, cancellationToken: cancellationToken).ConfigureAwait(false);
        var present = Directory.EnumerateFiles(full, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(file => DatasetNaming.RelativePath(datasetFolder, Path.GetRelativePath(full, file).Replace(Path.DirectorySeparatorChar, '/')))
            .ToHashSet(StringComparer.Ordinal);
        var prefix = string.IsNullOrEmpty(datasetFolder?.Trim('/', '.', ' ')) ? "" : DatasetNaming.RelativePath(null, datasetFolder) + "/";
        var gone = Manifest.Files.Keys.Where(p => p.StartsWith(prefix, StringComparison.Ordinal) && !present.Contains(p)).ToList();
        foreach (var path in gone)
        {
            Manifest.Files.Remove(path);
            _pending.Remove(path);
        }
        return new DatasetSyncResult(added.Added, added.Modified, gone.Count, added.Unchanged);
    }

    /// <summary>
    /// Removes the files whose dataset path matches <paramref name="pattern"/> (e.g. <c>old/*</c>, <c>*.tmp</c>,
    /// <c>a/b.txt</c>): with <paramref name="recursive"/>, a pattern without folders matches file names at any depth.
    /// </summary>
    /// <returns>How many files were removed.</returns>
    /// <exception cref="SlipwayException">The version is finalized.</exception>
    public int RemoveFiles(string pattern, bool recursive = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        EnsureOpen("remove files from");
        pattern = pattern.TrimStart('/');
        var files = Manifest.Files.Keys.Where(p => PathPattern.MatchesDatasetPath(p, pattern, recursive)).ToList();
        var links = Manifest.Links.Values.Where(l => PathPattern.MatchesDatasetPath(l.RelativePath, pattern, recursive) || l.Link == pattern
            || PathPattern.MatchesDatasetPath(l.Link, pattern, recursive)).Select(l => l.RelativePath).ToList();
        foreach (var path in files)
        {
            Manifest.Files.Remove(path);
            _pending.Remove(path);
        }
        foreach (var path in links)
            Manifest.Links.Remove(path);
        return files.Count + links.Count;
    }

    /// <summary>
    /// Zips the files added or changed since the last upload into chunks and uploads them (several at a time), then
    /// records them on the version. Inherited and unchanged files are not uploaded again.
    /// </summary>
    /// <param name="options">Chunk size, compression, parallelism, another file server.</param>
    /// <param name="progress">
    /// Receives progress in file bytes, as the chunks are sent (each chunk's bytes on the wire scaled to the file bytes
    /// it holds), so the reports add up to the size of the files uploaded.
    /// </param>
    /// <param name="cancellationToken">Cancels the upload (the version keeps its pending files).</param>
    /// <exception cref="SlipwayException">The version is finalized, a file changed since it was added, or an upload failed.</exception>
    public async Task UploadAsync(DatasetUploadOptions? options = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new DatasetUploadOptions();
        EnsureOpen("upload to");
        if (options.OutputUrl is { } output)
            _storage = output.Scheme is "http" or "https" ? output : throw new SlipwayException($"the output URL {output} is not an http(s) file server");
        var storage = _storage ?? _client.Options.EffectiveFilesServer;
        if (_pending.Count > 0)
        {
            var chunks = ChunkWriter.Split(_pending.Values, options.ChunkSize);
            var first = DatasetNaming.NextChunkIndex(_ownChunks.Keys);
            var artifacts = new JsonObject[chunks.Count];
            var scratch = Path.Combine(Path.GetTempPath(), $"slipway-upload-{Id}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(scratch);
            try
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, chunks.Count),
                    new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, options.MaxParallelUploads) },
                    async (i, ct) =>
                    {
                        var key = DatasetNaming.ChunkName(first + i);
                        var fileName = $"dataset.{Id}.{RandomSuffix()}.zip";
                        var zipPath = Path.Combine(scratch, fileName);
                        var (size, hash) = await ChunkWriter.WriteAsync(zipPath, chunks[i], options.Compression, ct).ConfigureAwait(false);
                        var remote = DatasetNaming.ArtifactPath(_projectName, _projectId, Name, Id, key, fileName);
                        var fileBytes = chunks[i].Sum(f => f.Size);
                        var scaled = progress is null ? null : new ScaledProgress(progress, fileBytes, size);
                        var url = await _client.Files.UploadFileAsync(zipPath, remote, storage, scaled, ct).ConfigureAwait(false);
                        scaled?.Finish();
                        File.Delete(zipPath);
                        artifacts[i] = new JsonObject
                        {
                            ["key"] = key,
                            ["type"] = "custom",
                            ["uri"] = url.AbsoluteUri,
                            ["content_size"] = size,
                            ["hash"] = hash,
                            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                            ["type_data"] = new JsonObject { ["preview"] = ChunkPreview(chunks[i]), ["content_type"] = "application/zip" },
                        };
                    }).ConfigureAwait(false);
            }
            finally
            {
                DatasetCache.DeleteFolder(scratch);
            }
            await _client.CallAsync("tasks.add_or_update_artifacts", new JsonObject { ["task"] = Id, ["artifacts"] = new JsonArray(artifacts), ["force"] = true },
                cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < chunks.Count; i++)
            {
                var key = DatasetNaming.ChunkName(first + i);
                _ownChunks[key] = artifacts[i].Long("content_size") ?? 0;
                foreach (var file in chunks[i])
                    Manifest.Files[file.RelativePath] = new DatasetFile(file.RelativePath, file.Hash, file.Size, Id, key);
            }
            _pending.Clear();
        }
        await WriteStateAsync(withChunkLookup: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records the changes made so far (files added, by their local paths, and files removed) on the server without
    /// uploading any file, so that another process, e.g. a later <c>slipway dataset upload</c>, continues from them.
    /// </summary>
    /// <exception cref="SlipwayException">The version is finalized.</exception>
    public Task SaveAsync(CancellationToken cancellationToken = default)
    {
        EnsureOpen("save");
        return WriteStateAsync(withChunkLookup: false, cancellationToken);
    }

    /// <summary>
    /// Closes the version: writes the final manifest (with the chunk counts of every version it reads from), the
    /// "Dataset Struct" and "Dataset Content" configuration, and marks it completed. Upload first.
    /// </summary>
    /// <exception cref="SlipwayException">Files are waiting to be uploaded, or the version is already finalized.</exception>
    public async Task FinalizeAsync(CancellationToken cancellationToken = default)
    {
        EnsureOpen("finalize");
        if (_pending.Count > 0)
            throw new SlipwayException($"cannot finalize dataset version {Id}: {_pending.Count} file(s) are not uploaded yet (e.g. '{PendingFiles[0]}'); call UploadAsync first");
        await WriteStateAsync(withChunkLookup: true, cancellationToken).ConfigureAwait(false);
        await WriteStructureAsync(cancellationToken).ConfigureAwait(false);
        await _client.CallAsync("tasks.completed", new JsonObject { ["task"] = Id, ["status_reason"] = "completed", ["publish"] = false, ["force"] = true },
            cancellationToken).ConfigureAwait(false);
        Status = "completed";
    }

    /// <summary>
    /// Assembles the whole version in the local cache (<c>&lt;cache root&gt;/&lt;id&gt;</c>): the chunks of this version
    /// and of the ancestors that hold its inherited files are downloaded in parallel and extracted straight from the
    /// network, and every file is checked against the manifest (size and SHA-256). A later call finds the copy whole
    /// and downloads nothing; a copy that was changed or left incomplete is rebuilt. With
    /// <see cref="LocalCopyOptions.CopyTo"/>, the files are also copied there.
    /// </summary>
    /// <param name="options">Cache root, copy target, parallelism.</param>
    /// <param name="progress">Receives the number of file bytes written, as they are written (they add up to <see cref="TotalSize"/>; nothing on a cache hit).</param>
    /// <param name="cancellationToken">Cancels the download (nothing half-made is left in the cache).</param>
    /// <exception cref="SlipwayException">The version is not finalized, or a chunk or file cannot be fetched or does not match.</exception>
    public async Task<DatasetLocalCopy> GetLocalCopyAsync(LocalCopyOptions? options = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new LocalCopyOptions();
        if (!IsFinal)
            throw new SlipwayException($"dataset version {Id} is not finalized (status {Status}); finalize it before reading it");
        if (await LocalCopier.TryFromCacheAsync(_datasets, Id, options, cancellationToken).ConfigureAwait(false) is { } cached)
            return cached;
        return await LocalCopier.BuildAsync(_datasets, this, options, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The files that differ between two manifests.</summary>
    internal static DatasetDiff Diff(string fromId, IReadOnlyDictionary<string, DatasetFile> from, string toId, IReadOnlyDictionary<string, DatasetFile> to)
    {
        var added = to.Values.Where(f => !from.ContainsKey(f.RelativePath)).OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList();
        var removed = from.Values.Where(f => !to.ContainsKey(f.RelativePath)).OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList();
        var modified = to.Values.Where(f => from.TryGetValue(f.RelativePath, out var old) && old.Hash != f.Hash)
            .OrderBy(f => f.RelativePath, StringComparer.Ordinal).Select(f => new DatasetFileChange(from[f.RelativePath], f)).ToList();
        var unchanged = to.Values.Count(f => from.TryGetValue(f.RelativePath, out var old) && old.Hash == f.Hash);
        return new DatasetDiff(fromId, toId, added, removed, modified, unchanged);
    }

    /// <summary>
    /// Uploads the manifest as the <c>state</c> artifact (with the added/removed/modified counts the SDK reads back)
    /// and records sizes and change counts in the task's runtime properties.
    /// </summary>
    internal async Task WriteStateAsync(bool withChunkLookup, CancellationToken ct)
    {
        Manifest.PruneGraph();
        Manifest.Dirty = _pending.Count > 0;
        Manifest.LocalPaths.Clear();
        foreach (var (path, file) in _pending)
            Manifest.LocalPaths[path] = file.LocalPath;
        if (withChunkLookup)
        {
            var others = Manifest.Graph.Keys.Where(k => k != Id).ToList();
            var tasks = await _datasets.GetTasksAsync(others, ["execution.artifacts"], ct).ConfigureAwait(false);
            Manifest.ChunkLookup = new Dictionary<string, int>(StringComparer.Ordinal) { [Id] = _ownChunks.Count };
            foreach (var other in others)
                Manifest.ChunkLookup[other] = tasks.TryGetValue(other, out var t) && t.At("execution.artifacts") is JsonArray list
                    ? list.Count(a => a.Str("key") is { } key && DatasetNaming.IsChunkKey(key))
                    : 1;
        }
        var changes = await ChangesAsync(ct).ConfigureAwait(false);
        var json = Manifest.ToJson();
        var remote = DatasetNaming.ArtifactPath(_projectName, _projectId, Name, Id, DatasetNaming.StateKey, "state.json");
        Uri url;
        using (var content = new MemoryStream(json, writable: false))
            url = await _client.Files.UploadAsync(content, remote, _storage, null, ct).ConfigureAwait(false);
        var graph = new JsonObject();
        foreach (var (node, parents) in Manifest.Graph.OrderBy(p => p.Key, StringComparer.Ordinal))
            graph[node] = parents.ToJsonArray();
        var graphText = graph.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, IndentSize = 2 });
        var state = new JsonObject
        {
            ["key"] = DatasetNaming.StateKey,
            ["type"] = "dict",
            ["uri"] = url.AbsoluteUri,
            ["content_size"] = json.Length,
            ["hash"] = Convert.ToHexStringLower(SHA256.HashData(json)),
            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["type_data"] = new JsonObject
            {
                ["preview"] = $"Dataset state\nFiles added/modified: {changes.Added + changes.Modified} - total size {FormatSize(changes.AddedSize + changes.ModifiedSize)}\nCurrent dependency graph: {graphText}\n",
                ["content_type"] = "application/json",
            },
            ["display_data"] = new JsonArray(
                new JsonArray("files added", changes.Added.ToString(CultureInfo.InvariantCulture)),
                new JsonArray("files removed", changes.Removed.ToString(CultureInfo.InvariantCulture)),
                new JsonArray("files modified", changes.Modified.ToString(CultureInfo.InvariantCulture))),
        };
        await _client.CallAsync("tasks.add_or_update_artifacts", new JsonObject { ["task"] = Id, ["artifacts"] = new JsonArray(state), ["force"] = true }, ct).ConfigureAwait(false);

        var compressed = _ownChunks.Values.Sum() + await ParentsCompressedSizeAsync(ct).ConfigureAwait(false);
        _runtime["ds_file_count"] = Manifest.Files.Count;
        _runtime["ds_link_count"] = Manifest.Links.Count;
        _runtime["ds_total_size"] = Manifest.TotalSize;
        _runtime["ds_total_size_compressed"] = compressed;
        _runtime["ds_change_add"] = changes.Added;
        _runtime["ds_change_remove"] = changes.Removed;
        _runtime["ds_change_modify"] = changes.Modified;
        _runtime["ds_change_size"] = changes.AddedSize + changes.ModifiedSize - changes.RemovedSize;
        await _client.CallAsync("tasks.edit", new JsonObject { ["task"] = Id, ["force"] = true, ["runtime"] = _runtime.DeepClone() }, ct).ConfigureAwait(false);
    }

    /// <summary>Writes the "Dataset Struct" (the version graph, for lineage views) and "Dataset Content" (file listing) configuration.</summary>
    internal async Task WriteStructureAsync(CancellationToken ct)
    {
        var others = Manifest.Graph.Keys.Concat(Manifest.Graph.Values.SelectMany(p => p)).Where(k => k != Id).Distinct(StringComparer.Ordinal).ToList();
        var tasks = await _datasets.GetTasksAsync(others, ["name", "status", "last_update", "runtime"], ct).ConfigureAwait(false);
        var self = new JsonObject
        {
            ["id"] = Id, ["name"] = Name, ["status"] = Status, ["last_update"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["runtime"] = _runtime.DeepClone(),
        };
        var structure = DatasetReports.Structure(Id, Manifest.Graph, id => id == Id ? self : tasks.GetValueOrDefault(id));
        var content = DatasetReports.Content(Manifest);
        await _client.CallAsync("tasks.edit_configuration", new JsonObject
        {
            ["task"] = Id,
            ["configuration"] = new JsonArray(
                new JsonObject { ["name"] = "Dataset Struct", ["value"] = structure, ["type"] = "json", ["description"] = "Structure of the dataset" },
                new JsonObject { ["name"] = "Dataset Content", ["value"] = content, ["type"] = "CSV", ["description"] = "Dataset content preview" }),
            ["replace_configuration"] = false,
            ["force"] = true,
        }, ct).ConfigureAwait(false);
    }

    private readonly record struct Changes(int Added, int Removed, int Modified, long AddedSize, long RemovedSize, long ModifiedSize);

    /// <summary>Files added, removed and replaced with respect to the direct parents' merged files.</summary>
    private async Task<Changes> ChangesAsync(CancellationToken ct)
    {
        if (ParentsForChanges is null)
        {
            var parents = new List<DatasetVersion>();
            foreach (var parentId in Parents)
                parents.Add(await _datasets.GetAsync(parentId, ct).ConfigureAwait(false));
            ParentsForChanges = parents;
        }
        var inherited = new Dictionary<string, DatasetFile>(StringComparer.Ordinal);
        foreach (var parent in ParentsForChanges)
            foreach (var (path, file) in parent.Manifest.Files)
                inherited[path] = file;
        int added = 0, modified = 0, removed = 0;
        long addedSize = 0, modifiedSize = 0, removedSize = 0;
        foreach (var file in Manifest.Files.Values.Where(f => f.SourceVersionId == Id))
        {
            if (inherited.TryGetValue(file.RelativePath, out var before))
            {
                modified++;
                modifiedSize += file.Size - before.Size;
            }
            else
            {
                added++;
                addedSize += file.Size;
            }
        }
        foreach (var (path, file) in inherited)
        {
            if (!Manifest.Files.ContainsKey(path))
            {
                removed++;
                removedSize += file.Size;
            }
        }
        return new Changes(added, removed, modified, addedSize, removedSize, modifiedSize);
    }

    private async Task<long> ParentsCompressedSizeAsync(CancellationToken ct)
    {
        if (Parents.Count == 0)
            return 0;
        var tasks = await _datasets.GetTasksAsync(Parents, ["runtime.ds_total_size_compressed"], ct).ConfigureAwait(false);
        return tasks.Values.Sum(t => t.Long("runtime.ds_total_size_compressed") ?? 0);
    }

    private void EnsureOpen(string action)
    {
        if (Status is not ("created" or "in_progress"))
            throw new SlipwayException($"cannot {action} dataset version {Id}: it is {Status}; create a new version (with this one as parent) to change it");
    }

    private static string ChunkPreview(IReadOnlyList<PendingFile> files)
    {
        var text = new System.Text.StringBuilder();
        foreach (var f in files.Take(15_000))
        {
            if (text.Length > 32 * 1024)
            {
                text.Append("...\ntruncated (too many files to preview)");
                break;
            }
            text.Append(CultureInfo.InvariantCulture, $"{f.RelativePath} - {f.Size}\n");
        }
        return text.ToString();
    }

    internal static string FormatSize(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes} B" : value.ToString("0.##", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private static string RandomSuffix()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_";
        return string.Create(8, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
                span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }

    /// <summary>Turns bytes of a zip on the wire into the file bytes they carry, ending exactly at the files' total.</summary>
    private sealed class ScaledProgress(IProgress<long> inner, long fileBytes, long zipBytes) : IProgress<long>
    {
        private long _sent;
        private long _reported;

        public void Report(long value)
        {
            var sent = Interlocked.Add(ref _sent, value);
            var target = zipBytes <= 0 ? 0 : Math.Min(fileBytes, (long)((double)sent / zipBytes * fileBytes));
            var delta = target - Interlocked.Exchange(ref _reported, target);
            if (delta > 0)
                inner.Report(delta);
        }

        /// <summary>Reports what is left (a retried upload sends some bytes twice; rounding leaves a few).</summary>
        public void Finish()
        {
            var delta = fileBytes - Interlocked.Exchange(ref _reported, fileBytes);
            if (delta > 0)
                inner.Report(delta);
        }
    }
}
