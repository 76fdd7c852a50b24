namespace Slipway.Server.Blobs;

/// <summary>
/// Blobs on the local disk under a root folder. An upload is written to a temporary file beside the root
/// and renamed into place when complete, so readers see the old file or the new one, never a part, and of
/// concurrent uploads to one path the last rename wins with an intact file.
/// </summary>
public sealed class LocalBlobStore : IBlobStore
{
    private readonly string _root;
    private readonly string _incoming;

    public LocalBlobStore(string root)
    {
        _root = Path.GetFullPath(root);
        _incoming = Path.Combine(_root, ".slipway-incoming");
        Directory.CreateDirectory(_incoming);
        // Leftovers of uploads interrupted by a crash are never published; clear them.
        foreach (var stale in Directory.EnumerateFiles(_incoming))
            File.Delete(stale);
    }

    public async Task<StagedBlob> StageAsync(string path, Stream content, CancellationToken ct)
    {
        var target = Resolve(path);
        var temp = Path.Combine(_incoming, Guid.NewGuid().ToString("N"));
        try
        {
            long length;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(file, 1 << 16, ct);
                await file.FlushAsync(ct);
                file.Flush(flushToDisk: true);
                length = file.Length;
            }
            return new Staged(path, target, temp, length);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private sealed class Staged(string path, string target, string temp, long length) : StagedBlob
    {
        public override string Path => path;

        public override long Length => length;

        public override Task CommitAsync(CancellationToken ct)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Move(temp, target, overwrite: true);
            return Task.CompletedTask;
        }

        public override ValueTask DisposeAsync()
        {
            File.Delete(temp);
            return ValueTask.CompletedTask;
        }
    }

    public Task<BlobInfo?> StatAsync(string path, CancellationToken ct)
    {
        var file = new FileInfo(Resolve(path));
        return Task.FromResult(file.Exists ? new BlobInfo(file.Length, file.LastWriteTimeUtc) : null);
    }

    public Task<Stream?> OpenReadAsync(string path, CancellationToken ct)
    {
        var target = Resolve(path);
        try
        {
            Stream stream = new FileStream(target, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public string? LocalPath(string path) => Resolve(path);

    public Task<bool> DeleteAsync(string path, CancellationToken ct)
    {
        var target = Resolve(path);
        if (!File.Exists(target))
            return Task.FromResult(false);
        File.Delete(target);
        return Task.FromResult(true);
    }

    /// <summary>The full path of a checked blob path; refuses anything that resolves outside the root.</summary>
    private string Resolve(string path)
    {
        var full = Path.GetFullPath(Path.Combine(_root, path));
        if (!full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || full.StartsWith(_incoming, StringComparison.Ordinal))
            throw new ArgumentException($"path escapes the store: {path}", nameof(path));
        return full;
    }
}
