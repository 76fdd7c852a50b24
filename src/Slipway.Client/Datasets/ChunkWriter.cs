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
                {
                    var entry = zip.CreateEntry(file.RelativePath, level);
                    var modified = File.GetLastWriteTime(file.LocalPath);
                    entry.LastWriteTime = modified.Year is >= 1980 and <= 2107 ? modified : new DateTime(1980, 1, 1, 0, 0, 0, DateTimeKind.Local);
                    await using var target = await entry.OpenAsync(ct).ConfigureAwait(false);
                    await CopyCheckedAsync(file, target, buffer, ct).ConfigureAwait(false);
                }
            }
            await using var written = new FileStream(zipPath, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
            return (written.Length, Convert.ToHexStringLower(await SHA256.HashDataAsync(written, ct).ConfigureAwait(false)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task CopyCheckedAsync(PendingFile file, Stream target, byte[] buffer, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        try
        {
            await using var source = new FileStream(file.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), ct).ConfigureAwait(false)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                await target.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                total += read;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SlipwayException($"cannot read '{file.LocalPath}' (dataset path '{file.RelativePath}'): {e.Message}", e);
        }
        if (total != file.Size || !Convert.ToHexStringLower(sha.GetHashAndReset()).Equals(file.Hash, StringComparison.Ordinal))
            throw new SlipwayException($"'{file.LocalPath}' changed after it was added to the dataset; add it again before uploading");
    }
}
