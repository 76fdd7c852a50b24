using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Slipway.Client.Datasets;

/// <summary>
/// Takes the wanted files out of one zip chunk, read straight from the file server, and checks each against the
/// manifest (size and SHA-256, computed while the bytes are written). Other entries in the chunk are skipped.
/// Entries may be stored or deflated (zip64 too), as the Python SDK writes either.
/// </summary>
internal static class ChunkExtractor
{
    private const int BufferSize = 1 << 20;

    /// <summary>Extracts <paramref name="wanted"/> (by relative path) from the chunk at <paramref name="url"/> under <paramref name="root"/>.</summary>
    /// <exception cref="SlipwayException">The chunk cannot be read, lacks a file, or a file does not match the manifest.</exception>
    public static async Task ExtractAsync(FilesClient files, Uri url, IReadOnlyCollection<DatasetFile> wanted, string root, IProgress<long>? progress,
        int maxRetries, CancellationToken ct)
    {
        var remaining = wanted.ToDictionary(f => f.RelativePath, StringComparer.Ordinal);
        await using var source = await RangeReadStream.OpenAsync(files, url, progress, maxRetries, ct).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using var zip = await ZipArchive.CreateAsync(source, ZipArchiveMode.Read, leaveOpen: true, entryNameEncoding: null, ct).ConfigureAwait(false);
            foreach (var entry in zip.Entries)
            {
                if (!remaining.Remove(entry.FullName.Replace('\\', '/'), out var file))
                    continue;
                var target = DatasetNaming.LocalPath(root, file.RelativePath);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await using var input = await entry.OpenAsync(ct).ConfigureAwait(false);
                await WriteCheckedAsync(input, target, file, url, buffer, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            throw new SlipwayException($"the chunk {url} cannot be read as a zip: {e.Message}", e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (remaining.Count > 0)
            throw new SlipwayException($"the chunk {url} lacks {remaining.Count} file(s) the manifest places there, e.g. '{remaining.Keys.Order(StringComparer.Ordinal).First()}'");
    }

    private static async Task WriteCheckedAsync(Stream input, string target, DatasetFile file, Uri url, byte[] buffer, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long written = 0;
        var output = new FileStream(target, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
            PreallocationSize = file.Size,
        });
        await using (output.ConfigureAwait(false))
        {
            int read;
            while ((read = await input.ReadAsync(buffer.AsMemory(0, BufferSize), ct).ConfigureAwait(false)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                written += read;
            }
        }
        var hash = Convert.ToHexStringLower(sha.GetHashAndReset());
        if (written != file.Size || (file.Hash.Length > 0 && !hash.Equals(file.Hash, StringComparison.OrdinalIgnoreCase)))
        {
            File.Delete(target);
            throw new SlipwayException(written != file.Size
                ? $"'{file.RelativePath}' in the chunk {url} has {written} bytes where the manifest says {file.Size}"
                : $"'{file.RelativePath}' in the chunk {url} has SHA-256 {hash} where the manifest says {file.Hash}");
        }
    }
}
