using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Slipway.Client.Datasets;

/// <summary>A local file waiting to be uploaded into the dataset, with the size and hash taken when it was added.</summary>
internal sealed record PendingFile(string RelativePath, string LocalPath, long Size, string Hash);

/// <summary>
/// Writes zip chunks in the layout the Python SDK reads: one entry per file, named by its dataset path, no folder
/// entries, deflated (or stored), zip64 when needed. Files are split into chunks by size, in path order.
/// </summary>
internal static class ChunkWriter
{
    private const int BufferSize = 1 << 20;

    /// <summary>
    /// Splits files into chunks of at most <paramref name="chunkSize"/> bytes of content; a file larger than that
    /// gets a chunk of its own. A chunk size of zero or less puts everything in one chunk.
    /// </summary>
    public static List<List<PendingFile>> Split(IEnumerable<PendingFile> files, long chunkSize)
    {
        var chunks = new List<List<PendingFile>>();
        List<PendingFile>? current = null;
        long size = 0;
        foreach (var file in files.OrderBy(f => f.RelativePath, StringComparer.Ordinal))
        {
            if (current is null || (chunkSize > 0 && size > 0 && size + file.Size > chunkSize))
            {
                chunks.Add(current = []);
                size = 0;
            }
            current.Add(file);
            size += file.Size;
        }
        return chunks;
    }

    /// <summary>Writes one chunk to <paramref name="zipPath"/> and returns its size and SHA-256.</summary>
    /// <exception cref="SlipwayException">A file is gone or changed since it was added.</exception>
    public static async Task<(long Size, string Hash)> WriteAsync(string zipPath, IReadOnlyList<PendingFile> files, CompressionLevel level, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using (var output = new FileStream(zipPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await using var zip = await ZipArchive.CreateAsync(output, ZipArchiveMode.Create, leaveOpen: false, entryNameEncoding: null, ct).ConfigureAwait(false);
                foreach (var file in files)
                    await AddCheckedAsync(zip, file, level, buffer, ct).ConfigureAwait(false);
            }
            await using var written = new FileStream(zipPath, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
            return (written.Length, Convert.ToHexStringLower(await SHA256.HashDataAsync(written, ct).ConfigureAwait(false)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Adds one file as an entry. A file whose first bytes look incompressible (already compressed or random: images,
    /// archives, model weights) is stored rather than deflated, as <c>zip</c> does: deflate would gain about 1 % on it
    /// and cost the most CPU on both sides, the writer's deflating and the reader's inflating.
    /// </summary>
    private static async Task AddCheckedAsync(ZipArchive zip, PendingFile file, CompressionLevel level, byte[] buffer, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        try
        {
            await using var source = new FileStream(file.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            var read = await source.ReadAtLeastAsync(buffer.AsMemory(0, BufferSize), BufferSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            if (level != CompressionLevel.NoCompression && Incompressible(buffer.AsSpan(0, Math.Min(read, SampleSize))))
                level = CompressionLevel.NoCompression;
            var entry = zip.CreateEntry(file.RelativePath, level);
            var modified = File.GetLastWriteTime(file.LocalPath);
            entry.LastWriteTime = modified.Year is >= 1980 and <= 2107 ? modified : new DateTime(1980, 1, 1, 0, 0, 0, DateTimeKind.Local);
            await using var target = await entry.OpenAsync(ct).ConfigureAwait(false);
            while (read > 0)
            {
                sha.AppendData(buffer, 0, read);
                await target.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                total += read;
                read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SlipwayException($"cannot read '{file.LocalPath}' (dataset path '{file.RelativePath}'): {e.Message}", e);
        }
        if (total != file.Size || !Convert.ToHexStringLower(sha.GetHashAndReset()).Equals(file.Hash, StringComparison.Ordinal))
            throw new SlipwayException($"'{file.LocalPath}' changed after it was added to the dataset; add it again before uploading");
    }

    // How much of a file's start the incompressibility test reads, and the least it decides on. 16 KiB of random bytes
    // measure about 7.99 bits per byte (the estimate falls short by ~255 / (2n ln 2)), well over the 7.9 threshold, at a
    // quarter of 64 KiB's cost per file; 4 KiB still measure ~7.95.
    private const int SampleSize = 16 * 1024;
    private const int MinSample = 4 * 1024;

    /// <summary>
    /// True when the bytes' order-0 entropy is at least 7.9 bits per byte: deflate's Huffman stage can then save at
    /// most about 1 %, and data like that (compressed or encrypted) has no repeats for its LZ77 stage either.
    /// Short samples are never called incompressible (small files cost little to deflate).
    /// </summary>
    internal static bool Incompressible(ReadOnlySpan<byte> sample)
    {
        if (sample.Length < MinSample)
            return false;
        // Four tables, one per byte of each group of four, so consecutive equal bytes do not wait on the same counter.
        Span<int> counts = stackalloc int[4 * 256];
        var i = 0;
        for (; i + 4 <= sample.Length; i += 4)
        {
            counts[sample[i]]++;
            counts[256 + sample[i + 1]]++;
            counts[512 + sample[i + 2]]++;
            counts[768 + sample[i + 3]]++;
        }
        for (; i < sample.Length; i++)
            counts[sample[i]]++;
        double entropy = 0, n = sample.Length;
        for (var b = 0; b < 256; b++)
        {
            var count = counts[b] + counts[256 + b] + counts[512 + b] + counts[768 + b];
            if (count > 0)
                entropy -= count / n * Math.Log2(count / n);
        }
        return entropy >= 7.9;
    }
}
