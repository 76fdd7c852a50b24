namespace Slipway.Server.Blobs;

public sealed record BlobInfo(long Length, DateTimeOffset LastModified);

/// <summary>Files by path (checked with <see cref="BlobPath"/>). Writes stream and publish atomically: a partial upload is never visible.</summary>
public interface IBlobStore
{
    /// <summary>Receives the content for a path without publishing it; nothing is visible until <see cref="StagedBlob.CommitAsync"/>.</summary>
    Task<StagedBlob> StageAsync(string path, Stream content, CancellationToken ct);

    Task<BlobInfo?> StatAsync(string path, CancellationToken ct);

    /// <summary>A seekable stream of the file, or null when there is none.</summary>
    Task<Stream?> OpenReadAsync(string path, CancellationToken ct);

    /// <summary>The file's full path on this machine's disk when the store keeps it there (so it can be sent as a file); null otherwise.</summary>
    string? LocalPath(string path) => null;

    Task<bool> DeleteAsync(string path, CancellationToken ct);
}

/// <summary>Content received for a path and not yet published. Disposing it without a commit discards it.</summary>
public abstract class StagedBlob : IAsyncDisposable
{
    public abstract string Path { get; }

    public abstract long Length { get; }

    /// <summary>Publishes the content at its path atomically, replacing any earlier file.</summary>
    public abstract Task CommitAsync(CancellationToken ct);

    public abstract ValueTask DisposeAsync();
}

public static class BlobStoreExtensions
{
    public static async Task WriteAsync(this IBlobStore store, string path, Stream content, CancellationToken ct)
    {
        await using var staged = await store.StageAsync(path, content, ct);
        await staged.CommitAsync(ct);
    }
}
