using System.Security.Cryptography;
using Slipway.Server.Blobs;

namespace Slipway.Server.Tests.Blobs;

/// <summary>What every blob store promises, run against the local disk and a real S3-compatible server.</summary>
public abstract class BlobStoreContractTests : IAsyncLifetime
{
    protected IBlobStore Store { get; set; } = null!;

    public abstract Task InitializeAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData(10)]
    [InlineData(20_000_000)]
    public async Task Staged_content_is_invisible_until_committed_and_then_reads_back_with_seeks(int size)
    {
        var bytes = RandomNumberGenerator.GetBytes(size);
        await using (var staged = await Store.StageAsync("dir/file.bin", new MemoryStream(bytes), CancellationToken.None))
        {
            Assert.Equal(size, staged.Length);
            Assert.Null(await Store.StatAsync("dir/file.bin", CancellationToken.None));
            await staged.CommitAsync(CancellationToken.None);
        }
        Assert.Equal(size, (await Store.StatAsync("dir/file.bin", CancellationToken.None))!.Length);
        await using var read = (await Store.OpenReadAsync("dir/file.bin", CancellationToken.None))!;
        Assert.True(read.CanSeek);
        read.Seek(size / 2, SeekOrigin.Begin);
        var tail = new MemoryStream();
        await read.CopyToAsync(tail);
        Assert.Equal(bytes[(size / 2)..], tail.ToArray());
    }

    [Fact]
    public async Task A_staged_blob_disposed_without_commit_leaves_nothing_and_the_old_file_stays()
    {
        await Store.WriteAsync("keep.txt", new MemoryStream([1, 2, 3]), CancellationToken.None);
        await using (await Store.StageAsync("keep.txt", new MemoryStream(new byte[9_000_000]), CancellationToken.None))
        {
        }
        await using (await Store.StageAsync("never.txt", new MemoryStream([9]), CancellationToken.None))
        {
        }
        Assert.Null(await Store.StatAsync("never.txt", CancellationToken.None));
        await using var read = (await Store.OpenReadAsync("keep.txt", CancellationToken.None))!;
        var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal([1, 2, 3], copy.ToArray());
    }

    [Fact]
    public async Task Delete_reports_whether_there_was_a_file()
    {
        await Store.WriteAsync("a/b c#%.txt", new MemoryStream([1]), CancellationToken.None);
        Assert.True(await Store.DeleteAsync("a/b c#%.txt", CancellationToken.None));
        Assert.False(await Store.DeleteAsync("a/b c#%.txt", CancellationToken.None));
        Assert.Null(await Store.OpenReadAsync("a/b c#%.txt", CancellationToken.None));
    }
}

public sealed class LocalBlobStoreTests : BlobStoreContractTests
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "slipway-blobs-" + Guid.NewGuid().ToString("N")[..8]);

    public override Task InitializeAsync()
    {
        Store = new LocalBlobStore(_root);
        return Task.CompletedTask;
    }

    public override Task DisposeAsync()
    {
        Directory.Delete(_root, true);
        return Task.CompletedTask;
    }
}

public sealed class S3BlobStoreTests : BlobStoreContractTests
{
    public override async Task InitializeAsync() => Store = new S3BlobStore(await MotoServer.CreateBucketAsync());

    public override Task DisposeAsync()
    {
        ((S3BlobStore)Store).Dispose();
        return Task.CompletedTask;
    }
}
