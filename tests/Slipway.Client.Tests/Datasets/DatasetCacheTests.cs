using Slipway.Client.Datasets;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Datasets;

public sealed class DatasetCacheTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private static readonly Dictionary<string, byte[]> Files = new(StringComparer.Ordinal)
    {
        ["a.bin"] = DatasetScratch.Bytes(40_000, 1),
        ["b/c.bin"] = DatasetScratch.Bytes(90_000, 2),
        ["b/d.txt"] = DatasetScratch.Text("dee\n"),
    };

    private static async Task<string> MakeAsync(DatasetScratch scratch, SlipwayClient client, string name)
    {
        var version = await client.Datasets.CreateAsync(scratch.Project, name);
        await version.AddFilesAsync(scratch.Folder(name, Files));
        await version.UploadAsync(new DatasetUploadOptions { ChunkSize = 50_000 });
        await version.FinalizeAsync();
        return version.Id;
    }

    [Fact]
    public async Task A_second_get_uses_the_cache_without_any_request()
    {
        using var scratch = new DatasetScratch(server);
        using var writer = scratch.Client();
        var id = await MakeAsync(scratch, writer, "cached");
        using var handler = new CountingHandler { FilesServer = server.Server.FilesUrl };
        using var client = scratch.Client(handler);

        var first = await client.Datasets.GetLocalCopyAsync(id);
        Assert.False(first.FromCache);
        Assert.True(first.BytesDownloaded > Files.Values.Sum(f => f.Length) / 2, $"{first.BytesDownloaded} bytes downloaded");
        var requests = handler.FileGets;
        Assert.True(requests > 0);

        var second = await client.Datasets.GetLocalCopyAsync(id);
        Assert.True(second.FromCache);
        Assert.Equal(0, second.BytesDownloaded);
        Assert.Equal(requests, handler.FileGets);
        Assert.Equal(first.Path, second.Path);
        DatasetScratch.AssertFolder(Files, second.Path);
        Assert.Equal(first.Files, second.Files);

        // Also through a version object, and with the hashes re-checked.
        var version = await client.Datasets.GetAsync(id);
        var third = await version.GetLocalCopyAsync(new LocalCopyOptions { VerifyCachedHashes = true });
        Assert.True(third.FromCache);
    }

    [Fact]
    public async Task The_cache_needs_no_server_once_whole()
    {
        using var scratch = new DatasetScratch(server);
        using var writer = scratch.Client();
        var id = await MakeAsync(scratch, writer, "offline");
        await writer.Datasets.GetLocalCopyAsync(id);

        // The version's chunks are gone from the file server: a cached copy is still served.
        var task = await writer.Tasks.GetAsync(id);
        foreach (var chunk in task.Artifacts.Values.Where(a => a.Key.StartsWith("data", StringComparison.Ordinal)))
            await writer.Files.DeleteAsync(new Uri(chunk.Uri!));
        var copy = await writer.Datasets.GetLocalCopyAsync(id);
        Assert.True(copy.FromCache);
        DatasetScratch.AssertFolder(Files, copy.Path);
    }

    [Theory]
    [InlineData("rewritten")]
    [InlineData("deleted")]
    [InlineData("extra")]
    [InlineData("truncated")]
    [InlineData("no-record")]
    public async Task A_changed_or_incomplete_cache_is_rebuilt(string damage)
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var id = await MakeAsync(scratch, client, "damaged-" + damage);
        var copy = await client.Datasets.GetLocalCopyAsync(id);
        var target = Path.Combine(copy.Path, "b", "c.bin");
        switch (damage)
        {
            case "rewritten": // same size, different bytes
                var bytes = File.ReadAllBytes(target);
                bytes[100] ^= 0xff;
                File.WriteAllBytes(target, bytes);
                File.SetLastWriteTimeUtc(target, File.GetLastWriteTimeUtc(target).AddSeconds(1));
                break;
            case "deleted":
                File.Delete(target);
                break;
            case "extra":
                File.WriteAllText(Path.Combine(copy.Path, "stray.txt"), "not part of the version");
                break;
            case "truncated":
                using (var f = new FileStream(target, FileMode.Open))
                    f.SetLength(10);
                break;
            case "no-record": // an interrupted earlier run left the folder but never recorded it whole
                File.Delete(Path.Combine(scratch.Cache, id + ".complete.json"));
                break;
        }

        var again = await client.Datasets.GetLocalCopyAsync(id);
        Assert.False(again.FromCache);
        DatasetScratch.AssertFolder(Files, again.Path);
        Assert.True((await client.Datasets.GetLocalCopyAsync(id)).FromCache);
    }

    [Fact]
    public async Task A_same_size_change_is_caught_by_rehashing()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var id = await MakeAsync(scratch, client, "rehash");
        var copy = await client.Datasets.GetLocalCopyAsync(id);
        var target = Path.Combine(copy.Path, "a.bin");
        var stamp = File.GetLastWriteTimeUtc(target);
        var bytes = File.ReadAllBytes(target);
        bytes[0] ^= 0xff;
        File.WriteAllBytes(target, bytes);
        File.SetLastWriteTimeUtc(target, stamp); // size and time as recorded: only the hash tells

        Assert.True((await client.Datasets.GetLocalCopyAsync(id)).FromCache);
        var rebuilt = await client.Datasets.GetLocalCopyAsync(id, new LocalCopyOptions { VerifyCachedHashes = true });
        Assert.False(rebuilt.FromCache);
        DatasetScratch.AssertFolder(Files, rebuilt.Path);
    }

    [Fact]
    public async Task A_copy_to_a_folder_holds_real_files_and_refuses_a_non_empty_folder()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var id = await MakeAsync(scratch, client, "copied");
        var target = Path.Combine(scratch.Root, "mutable");

        var copy = await client.Datasets.GetLocalCopyAsync(id, new LocalCopyOptions { CopyTo = target });
        Assert.Equal(target, copy.Path);
        Assert.Equal(Path.Combine(scratch.Cache, id), copy.CachePath);
        DatasetScratch.AssertFolder(Files, target);
        Assert.All(Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories), f => Assert.Null(new FileInfo(f).LinkTarget));
        File.WriteAllText(Path.Combine(target, "a.bin"), "edited"); // a mutable copy: the cache is not affected
        Assert.True((await client.Datasets.GetLocalCopyAsync(id)).FromCache);

        var e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetLocalCopyAsync(id, new LocalCopyOptions { CopyTo = target }));
        Assert.Contains("not empty", e.Message, StringComparison.Ordinal);
        var again = await client.Datasets.GetLocalCopyAsync(id, new LocalCopyOptions { CopyTo = target, Overwrite = true });
        Assert.True(again.FromCache);
        DatasetScratch.AssertFolder(Files, target);
    }

    [Fact]
    public async Task A_chunk_that_does_not_match_the_manifest_fails_and_leaves_no_cache()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await client.Datasets.CreateAsync(scratch.Project, "tampered");
        await version.AddFilesAsync(scratch.Folder("src", new Dictionary<string, byte[]> { ["x.txt"] = DatasetScratch.Text("original") }));
        await version.UploadAsync();
        await version.FinalizeAsync();
        // Replace the chunk on the server with one whose file has other bytes of the same length.
        var task = await client.Tasks.GetAsync(version.Id);
        var uri = new Uri(task.Artifacts["data"].Uri!);
        var forged = Path.Combine(scratch.Root, "forged.zip");
        using (var zip = System.IO.Compression.ZipFile.Open(forged, System.IO.Compression.ZipArchiveMode.Create))
        using (var w = new StreamWriter(zip.CreateEntry("x.txt").Open()))
            w.Write("ORIGINAL");
        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        await client.Files.UploadFileAsync(forged, path);

        var e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetLocalCopyAsync(version.Id));
        Assert.Contains("SHA-256", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(scratch.Cache, version.Id)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(scratch.Cache, ".building")));
    }
}
