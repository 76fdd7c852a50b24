using System.IO.Compression;
using System.Text.Json.Nodes;
using Slipway.Client.Datasets;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Datasets;

public sealed class DatasetRoundTripTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private static readonly Dictionary<string, byte[]> Sample = new(StringComparer.Ordinal)
    {
        ["a.txt"] = DatasetScratch.Text("alpha\n"),
        ["images/cat.bin"] = DatasetScratch.Bytes(300_000, 1),
        ["images/deep/dog.bin"] = DatasetScratch.Bytes(70_000, 2),
        ["empty.dat"] = [],
        ["name with spaces & ünïcode.txt"] = DatasetScratch.Text("unicode name\n"),
        ["compressible.csv"] = DatasetScratch.Text(string.Concat(Enumerable.Repeat("1,2,3,4,5\n", 20_000))),
    };

    [Fact]
    public async Task A_version_goes_up_and_comes_back_byte_for_byte()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var source = scratch.Folder("src", Sample);

        var version = await client.Datasets.CreateAsync(scratch.Project, "images", new DatasetCreateOptions { Description = "first", Tags = ["raw"] });
        Assert.Equal("in_progress", version.Status);
        Assert.Equal("1.0.0", version.Version);
        var added = await version.AddFilesAsync(source);
        Assert.Equal(new DatasetAddResult(Sample.Count, 0, 0), added);
        Assert.Equal(Sample.Count, version.PendingFiles.Count);
        long sent = 0;
        await version.UploadAsync(progress: new SyncProgress(n => Interlocked.Add(ref sent, n)));
        Assert.Empty(version.PendingFiles);
        await version.FinalizeAsync();
        Assert.Equal("completed", version.Status);

        var task = await client.Tasks.GetAsync(version.Id);
        Assert.Equal("completed", task.Status);
        Assert.Equal("data_processing", task.Type);
        Assert.Contains("dataset", task.SystemTags);
        Assert.Equal("1.0.0", task.Parameters["properties/version"]);
        Assert.Equal(Sample.Count, task.Raw.At("runtime.ds_file_count")!.GetValue<long>());
        Assert.Equal(Sample.Values.Sum(b => (long)b.Length), task.Raw.At("runtime.ds_total_size")!.GetValue<long>());
        Assert.Equal(Sample.Count, task.Raw.At("runtime.ds_change_add")!.GetValue<long>());
        Assert.Contains("Dataset Struct", task.Configuration.Keys);
        Assert.StartsWith($"File Name ({Sample.Count} files)", task.Configuration["Dataset Content"], StringComparison.Ordinal);
        var chunk = Assert.Single(task.Artifacts.Values, a => a.Key.StartsWith("data", StringComparison.Ordinal));
        Assert.Equal("data", chunk.Key);
        Assert.EndsWith(".zip", chunk.Uri, StringComparison.Ordinal);
        Assert.Equal(Sample.Values.Sum(b => (long)b.Length), sent); // progress counts file bytes, whatever the compression
        var project = await client.Projects.GetAsync(task.ProjectId!);
        Assert.Equal($"{scratch.Project}/.datasets/images", project.Name);
        Assert.Equal(["dataset", "hidden"], project.SystemTags.Order());

        var byId = await client.Datasets.GetAsync(version.Id);
        Assert.Equal(("images", scratch.Project, "1.0.0"), (byId.Name, byId.Project, byId.Version));
        Assert.Equal(Sample.Keys.Order(StringComparer.Ordinal), byId.Files.Select(f => f.RelativePath));
        Assert.All(byId.Files, f => Assert.Equal((version.Id, "data"), (f.SourceVersionId, f.ChunkName)));

        var copy = await client.Datasets.GetLocalCopyAsync(version.Id);
        Assert.False(copy.FromCache);
        Assert.Equal(Path.Combine(scratch.Cache, version.Id), copy.Path);
        DatasetScratch.AssertFolder(Sample, copy.Path);

        var byName = await client.Datasets.GetAsync(scratch.Project, "images");
        Assert.Equal(version.Id, byName.Id);
    }

    [Fact]
    public async Task The_manifest_has_the_keys_and_types_the_python_sdk_reads()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await client.Datasets.CreateAsync(scratch.Project, "manifest");
        await version.AddFilesAsync(scratch.Folder("src", Sample), datasetFolder: "/sub/dir/");
        await version.UploadAsync();
        await version.FinalizeAsync();

        var task = await client.Tasks.GetAsync(version.Id);
        var state = task.Artifacts["state"];
        Assert.Equal("dict", state.Type);
        Assert.Equal("application/json", state.ContentType);
        var displayData = task.Raw.At("execution.artifacts") is JsonArray artifacts
            ? artifacts.OfType<JsonObject>().Single(a => a.Str("key") == "state")["display_data"]!.AsArray()
            : throw new InvalidOperationException("no artifacts");
        Assert.Equal(["files added", Sample.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)], displayData[0]!.AsArray().Select(v => v!.GetValue<string>()));
        await using var stream = await client.Files.OpenReadAsync(new Uri(state.Uri!));
        using var reader = new StreamReader(stream);
        var text = await reader.ReadToEndAsync();
        Assert.All(text, c => Assert.True(c < 128, $"non-ASCII character {(int)c} in state.json"));
        var json = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(version.Id, json.Str("id"));
        Assert.False(json.Bool("dirty"));
        Assert.Equal(Sample.Count, json.Long("file_count"));
        Assert.Equal(1, json.At("dependency_chunk_lookup")!.AsObject()[version.Id]!.GetValue<int>());
        Assert.Equal([version.Id], json["dependency_graph"]!.AsObject().Select(p => p.Key));
        foreach (var entry in json["dataset_file_entries"]!.AsArray().OfType<JsonObject>())
        {
            Assert.Equal(["artifact_name", "hash", "parent_dataset_id", "relative_path", "size"], entry.Select(p => p.Key));
            Assert.Equal(System.Text.Json.JsonValueKind.Number, entry["size"]!.GetValueKind());
            Assert.StartsWith("sub/dir/", entry.Str("relative_path"), StringComparison.Ordinal);
            Assert.Matches("^[0-9a-f]{64}$", entry.Str("hash"));
        }

        // The chunk: one entry per file named by its dataset path, no folder entries.
        var zipPath = Path.Combine(scratch.Root, "chunk.zip");
        await client.Files.DownloadAsync(new Uri(task.Artifacts["data"].Uri!), zipPath);
        using var zip = ZipFile.OpenRead(zipPath);
        Assert.Equal(Sample.Keys.Select(k => "sub/dir/" + k).Order(StringComparer.Ordinal), zip.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
        Assert.Matches($"/dataset\\.{version.Id}\\.[a-z0-9_]{{8}}\\.zip$", task.Artifacts["data"].Uri!);
    }

    [Fact]
    public async Task Small_chunks_split_a_version_into_many_zips_that_read_back_whole()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var files = Enumerable.Range(0, 40).ToDictionary(i => $"part/{i:00}.bin", i => DatasetScratch.Bytes(10_000 + i * 1000, i), StringComparer.Ordinal);
        files["big.bin"] = DatasetScratch.Bytes(200_000, 99); // larger than a chunk: a chunk of its own
        var version = await client.Datasets.CreateAsync(scratch.Project, "chunks");
        await version.AddFilesAsync(scratch.Folder("src", files));
        long sent = 0;
        await version.UploadAsync(new DatasetUploadOptions { ChunkSize = 64 * 1024, MaxParallelUploads = 3 }, new SyncProgress(n => Interlocked.Add(ref sent, n)));
        await version.FinalizeAsync();

        var task = await client.Tasks.GetAsync(version.Id);
        var chunks = task.Artifacts.Values.Where(a => a.Key == "data" || a.Key.StartsWith("data_", StringComparison.Ordinal)).ToList();
        Assert.True(chunks.Count >= 10, $"{chunks.Count} chunks");
        Assert.Equal(Enumerable.Range(0, chunks.Count).Select(i => i == 0 ? "data" : $"data_{i:000}"), chunks.Select(c => c.Key).Order(StringComparer.Ordinal));
        Assert.Equal(files.Values.Sum(b => (long)b.Length), sent);
        var read = await client.Datasets.GetAsync(version.Id);
        Assert.Equal(chunks.Count, read.Files.Select(f => f.ChunkName).Distinct().Count());
        Assert.Single(read.Files, f => f.ChunkName == read.Files.Single(g => g.RelativePath == "big.bin").ChunkName);

        long written = 0;
        var copy = await read.GetLocalCopyAsync(new LocalCopyOptions { MaxParallelDownloads = 3 }, new SyncProgress(n => Interlocked.Add(ref written, n)));
        Assert.Equal(read.TotalSize, written);
        DatasetScratch.AssertFolder(files, copy.Path);
    }

    [Fact]
    public async Task Stored_and_deflated_entries_both_read_back()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await client.Datasets.CreateAsync(scratch.Project, "stored");
        await version.AddFilesAsync(scratch.Folder("stored", new Dictionary<string, byte[]> { ["s1.txt"] = DatasetScratch.Text(new string('s', 5000)) }));
        await version.UploadAsync(new DatasetUploadOptions { Compression = CompressionLevel.NoCompression });
        await version.AddFilesAsync(scratch.Folder("deflated", new Dictionary<string, byte[]> { ["d1.txt"] = DatasetScratch.Text(new string('d', 5000)) }));
        await version.UploadAsync();
        await version.FinalizeAsync();

        var task = await client.Tasks.GetAsync(version.Id);
        Assert.Equal(["data", "data_001"], task.Artifacts.Keys.Where(k => k.StartsWith("data", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        var methods = new List<int>();
        foreach (var key in new[] { "data", "data_001" })
        {
            var local = Path.Combine(scratch.Root, key + ".zip");
            await client.Files.DownloadAsync(new Uri(task.Artifacts[key].Uri!), local);
            methods.Add(BitConverter.ToUInt16(File.ReadAllBytes(local), 8)); // the first local header's compression method
        }
        Assert.Equal([0, 8], methods);
        var copy = await client.Datasets.GetLocalCopyAsync(version.Id);
        Assert.Equal(new string('s', 5000), File.ReadAllText(Path.Combine(copy.Path, "s1.txt")));
        Assert.Equal(new string('d', 5000), File.ReadAllText(Path.Combine(copy.Path, "d1.txt")));
    }

    [Fact]
    public async Task By_default_incompressible_files_are_stored_and_the_rest_deflated()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await FinalizedSampleAsync(client, scratch, "mixed");

        var task = await client.Tasks.GetAsync(version.Id);
        var local = Path.Combine(scratch.Root, "mixed.zip");
        await client.Files.DownloadAsync(new Uri(task.Artifacts["data"].Uri!), local);
        using (var zip = ZipFile.OpenRead(local))
        {
            var entries = zip.Entries.ToDictionary(e => e.FullName);
            // Random bytes go in as they are (deflate would have added its block headers); text shrinks.
            Assert.All(new[] { "images/cat.bin", "images/deep/dog.bin" }, name => Assert.Equal(entries[name].Length, entries[name].CompressedLength));
            Assert.True(entries["compressible.csv"].CompressedLength < entries["compressible.csv"].Length / 10);
        }
        DatasetScratch.AssertFolder(Sample, (await client.Datasets.GetLocalCopyAsync(version.Id)).Path);
    }

    [Fact]
    public async Task A_chunk_whose_file_no_longer_matches_the_manifest_is_refused_and_nothing_is_cached()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await FinalizedSampleAsync(client, scratch, "tampered");

        // The same file, the same size, other bytes: only the SHA-256 check can tell.
        var url = new Uri((await client.Tasks.GetAsync(version.Id)).Artifacts["data"].Uri!);
        var local = Path.Combine(scratch.Root, "tampered.zip");
        await client.Files.DownloadAsync(url, local);
        using (var zip = ZipFile.Open(local, ZipArchiveMode.Update))
        {
            zip.GetEntry("images/cat.bin")!.Delete();
            using var replaced = zip.CreateEntry("images/cat.bin", CompressionLevel.NoCompression).Open();
            replaced.Write(DatasetScratch.Bytes(300_000, 99));
        }
        await client.Files.UploadFileAsync(local, Uri.UnescapeDataString(url.AbsolutePath));

        var error = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetLocalCopyAsync(version.Id));
        Assert.Contains("'images/cat.bin'", error.Message, StringComparison.Ordinal);
        Assert.Contains("SHA-256", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(scratch.Cache, version.Id)));

        // Checked by size only, the same-size change gets through; the next get that wants hashes re-checks the copy.
        var sizesOnly = await client.Datasets.GetLocalCopyAsync(version.Id, new LocalCopyOptions { VerifyHashes = false });
        Assert.Equal(DatasetScratch.Bytes(300_000, 99), File.ReadAllBytes(Path.Combine(sizesOnly.Path, "images", "cat.bin")));
        Assert.True((await client.Datasets.GetLocalCopyAsync(version.Id, new LocalCopyOptions { VerifyHashes = false })).FromCache);
        await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetLocalCopyAsync(version.Id));
        Assert.False(Directory.Exists(Path.Combine(scratch.Cache, version.Id)));
    }

    [Fact]
    public async Task A_copy_checked_by_size_only_is_hashed_once_by_the_next_get_that_wants_hashes()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await FinalizedSampleAsync(client, scratch, "sizes-only");
        var record = Path.Combine(scratch.Cache, version.Id + ".complete.json");

        var first = await client.Datasets.GetLocalCopyAsync(version.Id, new LocalCopyOptions { VerifyHashes = false });
        Assert.False(first.FromCache);
        DatasetScratch.AssertFolder(Sample, first.Path);
        Assert.True(JsonNode.Parse(File.ReadAllText(record))!["Unhashed"]!.GetValue<bool>());
        var checkedCopy = await client.Datasets.GetLocalCopyAsync(version.Id);
        Assert.True(checkedCopy.FromCache);
        Assert.False(JsonNode.Parse(File.ReadAllText(record))!["Unhashed"]!.GetValue<bool>());
    }

    /// <summary>A finalized version of <see cref="Sample"/>, uploaded with the defaults.</summary>
    private static async Task<DatasetVersion> FinalizedSampleAsync(SlipwayClient client, DatasetScratch scratch, string name)
    {
        var version = await client.Datasets.CreateAsync(scratch.Project, name);
        await version.AddFilesAsync(scratch.Folder(name, Sample));
        await version.UploadAsync();
        await version.FinalizeAsync();
        return version;
    }

    [Fact]
    public void The_incompressibility_test_takes_random_bytes_and_leaves_text_and_short_samples()
    {
        Assert.True(ChunkWriter.Incompressible(DatasetScratch.Bytes(64 * 1024, 7)));
        Assert.True(ChunkWriter.Incompressible(DatasetScratch.Bytes(16 * 1024, 8)));
        Assert.True(ChunkWriter.Incompressible(DatasetScratch.Bytes(4 * 1024 + 3, 9)));
        Assert.False(ChunkWriter.Incompressible(DatasetScratch.Bytes(1000, 7)));
        Assert.False(ChunkWriter.Incompressible(DatasetScratch.Text(string.Concat(Enumerable.Repeat("epoch,loss,accuracy\n", 4000)))));
        // Floats of a smooth series: few distinct high bytes, well under 7.9 bits per byte.
        Assert.False(ChunkWriter.Incompressible(Enumerable.Range(0, 16_384).SelectMany(i => BitConverter.GetBytes((float)Math.Sin(i / 100.0))).ToArray()));
    }

    [Theory]
    [InlineData(512, 1030, 3, 4, 2)] // two 512 MiB chunks and a 6 MiB one, 4 downloads: 2 + 2 + 1 lanes
    [InlineData(6, 1030, 3, 4, 1)]
    [InlineData(100, 100, 1, 8, 8)] // one chunk takes every download
    [InlineData(10, 100, 10, 4, 1)] // more chunks than downloads: one lane each
    public void Lanes_follow_the_chunks_bytes(long chunk, long total, int chunks, int parallel, int lanes) =>
        Assert.Equal(lanes, LocalCopier.Lanes(chunk, total, chunks, parallel));

    [Fact]
    public async Task Chunks_can_go_to_another_file_server()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await client.Datasets.CreateAsync(scratch.Project, "elsewhere");
        await version.AddFilesAsync(scratch.Folder("src", Sample));
        await version.UploadAsync(new DatasetUploadOptions { OutputUrl = server.FilesOnApiUrl });
        await version.FinalizeAsync();

        var task = await client.Tasks.GetAsync(version.Id);
        Assert.StartsWith(server.FilesOnApiUrl + "/", task.Artifacts["data"].Uri, StringComparison.Ordinal);
        Assert.StartsWith(server.FilesOnApiUrl + "/", task.Artifacts["state"].Uri, StringComparison.Ordinal);
        DatasetScratch.AssertFolder(Sample, (await client.Datasets.GetLocalCopyAsync(version.Id)).Path);
    }

    [Fact]
    public async Task Wildcards_and_a_dataset_folder_choose_what_is_added_and_patterns_remove()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var source = scratch.Folder("src", new Dictionary<string, byte[]>
        {
            ["a.png"] = [1], ["b.txt"] = [2], ["sub/c.png"] = [3], ["sub/d.txt"] = [4], ["sub/deeper/e.png"] = [5],
        });
        var version = await client.Datasets.CreateAsync(scratch.Project, "wild");
        Assert.Equal(new DatasetAddResult(3, 0, 0), await version.AddFilesAsync(source, wildcard: "*.png", datasetFolder: "pics"));
        Assert.Equal(new DatasetAddResult(1, 0, 0), await version.AddFilesAsync(source, wildcard: "*.txt", recursive: false));
        Assert.Equal(new DatasetAddResult(1, 0, 0), await version.AddFilesAsync(Path.Combine(source, "sub", "d.txt"), datasetFolder: "single"));
        Assert.Equal(["b.txt", "pics/a.png", "pics/sub/c.png", "pics/sub/deeper/e.png", "single/d.txt"], version.Files.Select(f => f.RelativePath));
        Assert.Equal(new DatasetAddResult(0, 0, 1), await version.AddFilesAsync(Path.Combine(source, "b.txt")));

        Assert.Equal(1, version.RemoveFiles("pics/sub/deeper/*"));
        Assert.Equal(1, version.RemoveFiles("c.png"));
        Assert.Equal(0, version.RemoveFiles("*.png", recursive: false));
        Assert.Equal(["b.txt", "pics/a.png", "single/d.txt"], version.Files.Select(f => f.RelativePath));
        Assert.Equal(["b.txt", "pics/a.png", "single/d.txt"], version.PendingFiles);
        await version.UploadAsync();
        await version.FinalizeAsync();
        var copy = await client.Datasets.GetLocalCopyAsync(version.Id);
        Assert.Equal(["b.txt", "pics/a.png", "single/d.txt"], DatasetScratch.Hashes(copy.Path).Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_large_chunk_is_read_by_parallel_lanes_skipping_what_the_version_no_longer_has()
    {
        using var scratch = new DatasetScratch(server);
        var files = Enumerable.Range(0, 30).ToDictionary(i => $"blob/{i:00}.bin", i => DatasetScratch.Bytes(1_000_000 + i, 100 + i), StringComparer.Ordinal);
        using var writer = scratch.Client();
        var parent = await writer.Datasets.CreateAsync(scratch.Project, "lanes");
        await parent.AddFilesAsync(scratch.Folder("parent", files));
        await parent.UploadAsync();
        await parent.FinalizeAsync();
        var child = await writer.Datasets.CreateAsync(scratch.Project, "lanes", new DatasetCreateOptions { Parents = [parent.Id] });
        var kept = new Dictionary<string, byte[]>(files, StringComparer.Ordinal);
        foreach (var i in new[] { 0, 3, 4, 5, 11, 17, 18, 26, 29 }) // gaps of one and of several entries, at both ends
        {
            child.RemoveFiles($"blob/{i:00}.bin");
            kept.Remove($"blob/{i:00}.bin");
        }
        kept["blob/12.bin"] = DatasetScratch.Bytes(500, 1);
        await child.AddFilesAsync(scratch.Folder("child", new Dictionary<string, byte[]> { ["blob/12.bin"] = kept["blob/12.bin"] }));
        await child.UploadAsync();
        await child.FinalizeAsync();

        using var handler = new CountingHandler { FilesServer = server.Server.FilesUrl };
        using var reader = scratch.Client(handler);
        var copy = await reader.Datasets.GetLocalCopyAsync(child.Id, new LocalCopyOptions { MaxParallelDownloads = 3 });
        DatasetScratch.AssertFolder(kept, copy.Path);
        Assert.True(handler.FileGets >= 4, $"{handler.FileGets} requests"); // the tails of two chunks, then lanes
        Assert.True(copy.BytesDownloaded < files.Values.Sum(f => (long)f.Length), $"{copy.BytesDownloaded} bytes downloaded");
        DatasetScratch.AssertFolder(files, (await reader.Datasets.GetLocalCopyAsync(parent.Id, new LocalCopyOptions { MaxParallelDownloads = 4 })).Path);
    }
}
