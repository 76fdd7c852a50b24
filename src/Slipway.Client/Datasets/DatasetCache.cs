using System.Security.Cryptography;
using System.Text.Json;

namespace Slipway.Client.Datasets;

/// <summary>
/// Complete local copies of finalized versions, one folder per version id under a root. A copy is assembled in a
/// scratch folder and moved into place only once every file is checked; a record beside it (<c>&lt;id&gt;.complete.json</c>)
/// lists each file's size, hash and modification time, so a later call can tell with one <c>stat</c> per file (and no
/// server call) that the copy is still whole: nothing missing, added, resized or rewritten.
/// </summary>
internal sealed class DatasetCache(string root)
{
    private const string BuildFolder = ".building";

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The folder holding the copy of a version.</summary>
    public string FolderOf(string versionId) => Path.Combine(Root, versionId);

    private string RecordOf(string versionId) => Path.Combine(Root, versionId + ".complete.json");

    /// <summary>
    /// The files of the copy when it is whole; null when there is none, or it was changed (it is then removed). A copy
    /// made without hashing is hashed when <paramref name="wantHashed"/>, and then recorded as hashed.
    /// </summary>
    public async Task<IReadOnlyList<DatasetFile>?> TryGetCompleteAsync(string versionId, bool verifyHashes, bool wantHashed, CancellationToken ct)
    {
        var recordPath = RecordOf(versionId);
        var folder = FolderOf(versionId);
        if (!File.Exists(recordPath) || !Directory.Exists(folder))
            return null;
        Record? record;
        try
        {
            await using var stream = File.OpenRead(recordPath);
            record = await JsonSerializer.DeserializeAsync(stream, RecordJson.Default.Record, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            record = null;
        }
        var rehash = verifyHashes || (wantHashed && record?.Unhashed == true);
        if (record is null || record.Id != versionId || !await IsWholeAsync(folder, record, rehash, ct).ConfigureAwait(false))
        {
            Remove(versionId);
            return null;
        }
        if (rehash && record.Unhashed)
            await WriteRecordAsync(record with { Unhashed = false }, ct).ConfigureAwait(false);
        return record.Files.Select(f => new DatasetFile(f.Path, f.Hash, f.Size, f.Source, f.Chunk)).ToList();
    }

    private static async Task<bool> IsWholeAsync(string folder, Record record, bool verifyHashes, CancellationToken ct)
    {
        try
        {
            if (Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Count() != record.Files.Count)
                return false;
            foreach (var f in record.Files)
            {
                var info = new FileInfo(DatasetNaming.LocalPath(folder, f.Path));
                if (!info.Exists || info.Length != f.Size || info.LastWriteTimeUtc.Ticks != f.Modified)
                    return false;
            }
            if (!verifyHashes)
                return true;
            var bad = 0;
            await Parallel.ForEachAsync(record.Files, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = Environment.ProcessorCount }, async (f, token) =>
            {
                await using var stream = new FileStream(DatasetNaming.LocalPath(folder, f.Path), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
                var hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, token).ConfigureAwait(false));
                if (f.Hash.Length > 0 && !hash.Equals(f.Hash, StringComparison.OrdinalIgnoreCase))
                    Interlocked.Increment(ref bad);
            }).ConfigureAwait(false);
            return bad == 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SlipwayException)
        {
            return false;
        }
    }

    /// <summary>A fresh, empty scratch folder on the cache's file system to assemble a copy in.</summary>
    public string NewBuildFolder(string versionId)
    {
        var folder = Path.Combine(Root, BuildFolder, versionId + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Moves an assembled copy into place and records it as whole (and whether its files were hashed).</summary>
    public async Task PublishAsync(string versionId, string buildFolder, IReadOnlyCollection<DatasetFile> files, bool hashed, CancellationToken ct)
    {
        Remove(versionId);
        var folder = FolderOf(versionId);
        try
        {
            Directory.Move(buildFolder, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            // Another process published the same version meanwhile: keep whichever copy is whole.
            Remove(versionId);
            Directory.Move(buildFolder, folder);
        }
        await WriteRecordAsync(new Record(versionId, files.Select(f => new RecordedFile(f.RelativePath, f.Size, f.Hash, f.SourceVersionId, f.ChunkName,
            File.GetLastWriteTimeUtc(DatasetNaming.LocalPath(folder, f.RelativePath)).Ticks)).ToList(), Unhashed: !hashed), ct).ConfigureAwait(false);
    }

    private async Task WriteRecordAsync(Record record, CancellationToken ct)
    {
        var temp = RecordOf(record.Id) + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        await using (var stream = File.Create(temp))
            await JsonSerializer.SerializeAsync(stream, record, RecordJson.Default.Record, ct).ConfigureAwait(false);
        File.Move(temp, RecordOf(record.Id), overwrite: true);
    }

    /// <summary>Removes a version's copy and its record.</summary>
    public void Remove(string versionId)
    {
        File.Delete(RecordOf(versionId));
        DeleteFolder(FolderOf(versionId));
    }

    public static void DeleteFolder(string folder)
    {
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
    }

    // Unhashed: the files were checked by size only (records written before it existed were all hashed).
    internal sealed record Record(string Id, List<RecordedFile> Files, bool Unhashed = false);

    internal sealed record RecordedFile(string Path, long Size, string Hash, string Source, string? Chunk, long Modified);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(DatasetCache.Record))]
internal sealed partial class RecordJson : System.Text.Json.Serialization.JsonSerializerContext;
