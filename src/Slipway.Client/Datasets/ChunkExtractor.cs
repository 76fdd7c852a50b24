using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Slipway.Client.Datasets;

/// <summary>
/// Takes the wanted files out of one zip chunk, read straight from the file server, and checks each against the
/// manifest (size and SHA-256, computed while the bytes are written). Other entries in the chunk are skipped.
/// Entries may be stored or deflated (zip64 too), as the Python SDK writes either. A large chunk is read by
/// several lanes at once, each taking a contiguous run of entries over its own request.
/// </summary>
internal static class ChunkExtractor
{
    private const int BufferSize = 1 << 20;

    // A lane is worth its own request from this many bytes on.
    private const long MinLaneBytes = 8L << 20;

    /// <summary>
    /// Extracts <paramref name="wanted"/> (by relative path) from the chunk at <paramref name="url"/> under
    /// <paramref name="root"/>, reading up to <paramref name="lanes"/> parts of the chunk in parallel.
    /// </summary>
    /// <exception cref="SlipwayException">The chunk cannot be read, lacks a file, or a file does not match the manifest.</exception>
    public static async Task ExtractAsync(FilesClient files, Uri url, IReadOnlyCollection<DatasetFile> wanted, string root, IProgress<long>? progress,
        IProgress<long>? written, int maxRetries, int lanes, bool verifyHashes, CancellationToken ct)
    {
        var remaining = wanted.ToDictionary(f => f.RelativePath, StringComparer.Ordinal);
        await using var source = await RangeReadStream.OpenAsync(files, url, progress, maxRetries, ct).ConfigureAwait(false);
        try
        {
            await using var zip = await ZipArchive.CreateAsync(source, ZipArchiveMode.Read, leaveOpen: true, entryNameEncoding: null, ct).ConfigureAwait(false);
            var runs = Split(zip.Entries.Where(e => remaining.ContainsKey(Name(e))).ToList(), source is RangeReadStream ? lanes : 1);
            using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var work = runs.Select((run, i) => ExtractRunAsync(i == 0 ? null : ((RangeReadStream)source).Fork(), zip, run, remaining, root, url, written, verifyHashes, failed)).ToList();
            await Task.WhenAll(work).ConfigureAwait(false);
            foreach (var run in runs)
                foreach (var name in run)
                    remaining.Remove(name);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            throw new SlipwayException($"the chunk {url} cannot be read as a zip: {e.Message}", e);
        }
        if (remaining.Count > 0)
            throw new SlipwayException($"the chunk {url} lacks {remaining.Count} file(s) the manifest places there, e.g. '{remaining.Keys.Order(StringComparer.Ordinal).First()}'");
    }

    private static string Name(ZipArchiveEntry entry) => entry.FullName.Replace('\\', '/');

    /// <summary>Splits the wanted entries (in file order) into up to <paramref name="lanes"/> runs of about equal compressed size.</summary>
    private static List<HashSet<string>> Split(List<ZipArchiveEntry> entries, int lanes)
    {
        var total = entries.Sum(e => e.CompressedLength);
        lanes = (int)Math.Clamp(Math.Min(lanes, total / MinLaneBytes), 1, Math.Max(1, entries.Count));
        var runs = new List<HashSet<string>> { new(StringComparer.Ordinal) };
        long taken = 0;
        foreach (var entry in entries)
        {
            // Start the next run once this one holds its share.
            if (runs.Count < lanes && taken >= total * runs.Count / lanes && runs[^1].Count > 0)
                runs.Add(new HashSet<string>(StringComparer.Ordinal));
            runs[^1].Add(Name(entry));
            taken += entry.CompressedLength;
        }
        return runs;
    }

    /// <summary>Extracts one run: from the shared archive (the first run), or from a fork of the chunk with an archive of its own.</summary>
    private static async Task ExtractRunAsync(RangeReadStream? fork, ZipArchive shared, HashSet<string> run, Dictionary<string, DatasetFile> wanted, string root, Uri url,
        IProgress<long>? written, bool verifyHashes, CancellationTokenSource failed)
    {
        var ct = failed.Token;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        // One hash object per lane: GetHashAndReset leaves it ready for the next file.
        using var sha = verifyHashes ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        try
        {
            await using var own = fork is null ? null : await ZipArchive.CreateAsync(fork, ZipArchiveMode.Read, leaveOpen: false, entryNameEncoding: null, ct).ConfigureAwait(false);
            var folders = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in (own ?? shared).Entries)
            {
                if (!run.Contains(Name(entry)))
                    continue;
                var file = wanted[Name(entry)];
                var target = DatasetNaming.LocalPath(root, file.RelativePath);
                if (folders.Add(Path.GetDirectoryName(target)!))
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await using var input = await entry.OpenAsync(ct).ConfigureAwait(false);
                await WriteCheckedAsync(input, target, file, url, buffer, sha, written, ct).ConfigureAwait(false);
            }
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (fork is not null)
                await fork.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task WriteCheckedAsync(Stream input, string target, DatasetFile file, Uri url, byte[] buffer, IncrementalHash? sha, IProgress<long>? progress,
        CancellationToken ct)
    {
        long written = 0;
        // The scratch folder is new and every path is extracted once: CreateNew spares the truncate Create would do. A
        // bare handle written at explicit offsets: no stream object or buffer of its own per file.
        using (var output = File.OpenHandle(target, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            while (true)
            {
                // Fill the whole buffer first: a deflate stream hands out 8 KiB per read, and a write (and a hash
                // update) per 8 KiB costs far more than the copy itself. A small file is written at once.
                var filled = 0;
                int read;
                while (filled < BufferSize && (read = await input.ReadAsync(buffer.AsMemory(filled, BufferSize - filled), ct).ConfigureAwait(false)) > 0)
                    filled += read;
                if (filled == 0)
                    break;
                sha?.AppendData(buffer, 0, filled);
                // A plain write: it lands in the page cache, and the async form would hop threads for every block.
                RandomAccess.Write(output, buffer.AsSpan(0, filled), written);
                written += filled;
                progress?.Report(filled);
            }
        }
        var hash = sha is null ? null : Convert.ToHexStringLower(sha.GetHashAndReset());
        if (written != file.Size || (hash is not null && file.Hash.Length > 0 && !hash.Equals(file.Hash, StringComparison.OrdinalIgnoreCase)))
        {
            File.Delete(target);
            throw new SlipwayException(written != file.Size
                ? $"'{file.RelativePath}' in the chunk {url} has {written} bytes where the manifest says {file.Size}"
                : $"'{file.RelativePath}' in the chunk {url} has SHA-256 {hash} where the manifest says {file.Hash}");
        }
    }
}
