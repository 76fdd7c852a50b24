using System.Text.Json.Nodes;

namespace Slipway.Client.Datasets;

/// <summary>
/// Assembles a whole version locally: each file comes from the chunk its manifest entry names, on the version that
/// holds it (this one or an ancestor), so inherited files are read from the ancestors' chunks, files removed on
/// the way are never fetched, and a changed file is taken only from the newer chunk. Chunks are read in parallel,
/// each straight from the network into the final files.
/// </summary>
internal static class LocalCopier
{
    /// <summary>The cached copy when it is whole (no server call); null otherwise.</summary>
    public static async Task<DatasetLocalCopy?> TryFromCacheAsync(DatasetsClient datasets, string versionId, LocalCopyOptions options, CancellationToken ct)
    {
        var cache = new DatasetCache(datasets.CacheRoot(options));
        if (await cache.TryGetCompleteAsync(versionId, options.VerifyCachedHashes, options.VerifyHashes, ct).ConfigureAwait(false) is not { } files)
            return null;
        return await FinishAsync(cache.FolderOf(versionId), files, fromCache: true, downloaded: 0, options, ct).ConfigureAwait(false);
    }

    public static async Task<DatasetLocalCopy> BuildAsync(DatasetsClient datasets, DatasetVersion version, LocalCopyOptions options, IProgress<long>? progress,
        CancellationToken ct)
    {
        var client = datasets.Client;
        var files = version.Manifest.Files.Values.ToList();
        var notUploaded = files.FirstOrDefault(f => f.ChunkName is null);
        if (notUploaded is not null)
            throw new SlipwayException($"'{notUploaded.RelativePath}' of dataset version {version.Id} was never uploaded (its manifest names no chunk)");

        // Where each chunk is: the artifacts of every version that holds some of the files.
        var sources = files.Select(f => f.SourceVersionId).Distinct(StringComparer.Ordinal).ToList();
        var tasks = await datasets.GetTasksAsync(sources, ["execution.artifacts"], ct).ConfigureAwait(false);
        var work = new List<(Uri Url, List<DatasetFile> Files, long Size)>();
        foreach (var group in files.GroupBy(f => (f.SourceVersionId, ChunkName: f.ChunkName!)))
        {
            var (source, chunk) = group.Key;
            if (!tasks.TryGetValue(source, out var task))
                throw new SlipwayException($"dataset version {source}, which holds '{group.First().RelativePath}' of version {version.Id}, no longer exists");
            var artifact = (task.At("execution.artifacts") as JsonArray ?? []).FirstOrDefault(a => a.Str("key") == chunk);
            if (artifact.Str("uri") is not { Length: > 0 } uri || !Uri.TryCreate(uri, UriKind.Absolute, out var url))
                throw new SlipwayException($"dataset version {source} has no chunk '{chunk}' (needed for '{group.First().RelativePath}' of version {version.Id})");
            work.Add((url, group.ToList(), group.Sum(f => f.Size)));
        }

        var cache = new DatasetCache(datasets.CacheRoot(options));
        var build = cache.NewBuildFolder(version.Id);
        long downloaded = 0;
        var counting = new Counter(null, n => Interlocked.Add(ref downloaded, n));
        try
        {
            // Largest first, so the last chunk to finish is a small one; with fewer chunks than downloads allowed,
            // each chunk is read by several lanes, in proportion to its bytes.
            var parallel = Math.Max(1, options.MaxParallelDownloads);
            var total = work.Sum(w => w.Size);
            await Parallel.ForEachAsync(work.OrderByDescending(w => w.Size), new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = parallel },
                async (w, token) => await ChunkExtractor.ExtractAsync(client.Files, w.Url, w.Files, build, counting, progress, client.Options.MaxRetries,
                    Lanes(w.Size, total, work.Count, parallel), options.VerifyHashes, token).ConfigureAwait(false))
                .ConfigureAwait(false);
            foreach (var link in version.Manifest.Links.Values)
                await FetchLinkAsync(client, link, build, new Counter(progress, n => Interlocked.Add(ref downloaded, n)), ct).ConfigureAwait(false);
            var all = files.Concat(version.Manifest.Links.Values.Select(l => new DatasetFile(l.RelativePath, l.Hash ?? "", l.Size ?? new FileInfo(DatasetNaming.LocalPath(build, l.RelativePath)).Length,
                l.SourceVersionId, null))).ToList();
            await cache.PublishAsync(version.Id, build, all, hashed: options.VerifyHashes, ct).ConfigureAwait(false);
            return await FinishAsync(cache.FolderOf(version.Id), all, fromCache: false, Interlocked.Read(ref downloaded), options, ct).ConfigureAwait(false);
        }
        finally
        {
            DatasetCache.DeleteFolder(build);
        }
    }

    /// <summary>
    /// How many lanes read one chunk: the downloads allowed, shared by bytes when there are fewer chunks than downloads
    /// (a 10 MiB chunk beside two of 512 MiB gets one lane, they two each), one each otherwise.
    /// </summary>
    internal static int Lanes(long chunkBytes, long totalBytes, int chunks, int parallel) =>
        chunks >= parallel || totalBytes <= 0 ? 1 : (int)Math.Clamp(Math.Round((double)parallel * chunkBytes / totalBytes), 1, parallel);

    private static async Task FetchLinkAsync(SlipwayClient client, DatasetLink link, string root, IProgress<long> progress, CancellationToken ct)
    {
        if (!Uri.TryCreate(link.Link, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https" or "file"))
            throw new SlipwayException($"'{link.RelativePath}' is an external link ({link.Link}) of a kind this client cannot fetch; only http(s) and file links are supported");
        var target = DatasetNaming.LocalPath(root, link.RelativePath);
        var size = await client.Files.DownloadAsync(url, target, progress, ct).ConfigureAwait(false);
        if (link.Size is { } expected && expected != size)
            throw new SlipwayException($"the external file {link.Link} ('{link.RelativePath}') has {size} bytes where the manifest says {expected}");
    }

    private static async Task<DatasetLocalCopy> FinishAsync(string folder, IReadOnlyList<DatasetFile> files, bool fromCache, long downloaded, LocalCopyOptions options,
        CancellationToken ct)
    {
        var path = folder;
        if (options.CopyTo is { } copyTo)
        {
            path = Path.GetFullPath(copyTo);
            await CopyAsync(folder, path, files, options.Overwrite, ct).ConfigureAwait(false);
        }
        return new DatasetLocalCopy(path, folder, fromCache, downloaded, files.OrderBy(f => f.RelativePath, StringComparer.Ordinal).ToList());
    }

    /// <summary>Copies the files (their bytes, never links) into <paramref name="target"/>.</summary>
    private static async Task CopyAsync(string from, string target, IReadOnlyList<DatasetFile> files, bool overwrite, CancellationToken ct)
    {
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            if (!overwrite)
                throw new SlipwayException($"cannot copy the dataset into '{target}': the folder is not empty (ask for overwrite to empty it first)");
            DatasetCache.DeleteFolder(target);
        }
        Directory.CreateDirectory(target);
        await Parallel.ForEachAsync(files, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = Environment.ProcessorCount }, (f, _) =>
        {
            var destination = DatasetNaming.LocalPath(target, f.RelativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(DatasetNaming.LocalPath(from, f.RelativePath), destination, overwrite: true);
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
    }

    /// <summary>Adds up bytes from parallel downloads and passes them on.</summary>
    private sealed class Counter(IProgress<long>? inner, Action<long> add) : IProgress<long>
    {
        public void Report(long value)
        {
            add(value);
            inner?.Report(value);
        }
    }
}
