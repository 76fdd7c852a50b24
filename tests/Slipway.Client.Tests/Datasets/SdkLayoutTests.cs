using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Client.Datasets;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Datasets;

/// <summary>
/// Versions laid out by hand the way the Python SDK writes them (the calls it makes, a state.json as Python's json
/// module prints it, chunks with stored and deflated entries, a project name that needs quoting), read by the client.
/// </summary>
public sealed class SdkLayoutTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private static readonly byte[] Big = DatasetScratch.Bytes(3 << 20, 11);
    private static readonly byte[] Skipped = DatasetScratch.Bytes(1_500_000, 12);
    private static readonly byte[] Small = Encoding.UTF8.GetBytes("small file\n");
    private static readonly byte[] Text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("row,1,2,3\n", 5000)));
    private static readonly byte[] Changed = Encoding.UTF8.GetBytes("changed in the child\n");

    [Fact]
    public async Task A_parent_and_child_written_like_the_sdk_read_back_whole()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var project = scratch.Project + " sdk#1";
        var name = "my ds";
        var parentId = await CreateTaskAsync(client, project, name, "1.0.0");
        var childId = await CreateTaskAsync(client, project, name, "1.0.1");

        // Parent: one chunk of stored and deflated entries (as after the SDK merges a leftover zip in append mode).
        var parentChunk = Zip(scratch, "parent.zip", seekable: true,
            ("big.bin", Big, CompressionLevel.NoCompression), ("docs/small.txt", Small, CompressionLevel.Optimal), ("table.csv", Text, CompressionLevel.Optimal),
            ("old.txt", Small, CompressionLevel.NoCompression));
        await UploadChunkAsync(client, project, name, parentId, "data", parentChunk);
        var parentState = State(parentId,
            [Entry("big.bin", Big, parentId, "data"), Entry("docs/small.txt", Small, parentId, "data"), Entry("table.csv", Text, parentId, "data"), Entry("old.txt", Small, parentId, "data")],
            new() { [parentId] = [] });
        await UploadStateAsync(client, project, name, parentId, parentState);
        await client.CallAsync("tasks.completed", new JsonObject { ["task"] = parentId, ["status_reason"] = "completed", ["publish"] = false });

        // Child: changes table.csv, removes old.txt, and its chunk (written without seeking: data descriptors) also
        // holds an entry it dropped again before finalizing, which must not appear in the copy.
        var childChunk = Zip(scratch, "child.zip", seekable: false,
            ("dropped.bin", Skipped, CompressionLevel.NoCompression), ("table.csv", Changed, CompressionLevel.Optimal));
        await UploadChunkAsync(client, project, name, childId, "data_001", childChunk);
        var childState = State(childId,
            [Entry("big.bin", Big, parentId, "data"), Entry("docs/small.txt", Small, parentId, "data"), Entry("table.csv", Changed, childId, "data_001")],
            new() { [childId] = [parentId], [parentId] = [] });
        await UploadStateAsync(client, project, name, childId, childState);
        await client.CallAsync("tasks.completed", new JsonObject { ["task"] = childId, ["status_reason"] = "completed", ["publish"] = false });

        var child = await client.Datasets.GetAsync(childId);
        Assert.Equal((scratch.Project + " sdk#1", "my ds", "1.0.1"), (child.Project, child.Name, child.Version));
        Assert.Equal([parentId], child.Parents);
        var copy = await child.GetLocalCopyAsync();
        DatasetScratch.AssertFolder(new Dictionary<string, byte[]> { ["big.bin"] = Big, ["docs/small.txt"] = Small, ["table.csv"] = Changed }, copy.Path);
        DatasetScratch.AssertFolder(new Dictionary<string, byte[]> { ["big.bin"] = Big, ["docs/small.txt"] = Small, ["table.csv"] = Text, ["old.txt"] = Small },
            (await client.Datasets.GetLocalCopyAsync(parentId)).Path);
        Assert.Equal(childId, (await client.Datasets.GetAsync(project, name)).Id);

        // A version made by the client on top of the SDK's one.
        var grandchild = await client.Datasets.CreateAsync(project, name, new DatasetCreateOptions { Parents = [childId] });
        Assert.Equal("1.0.2", grandchild.Version);
        grandchild.RemoveFiles("big.bin");
        await grandchild.FinalizeAsync();
        DatasetScratch.AssertFolder(new Dictionary<string, byte[]> { ["docs/small.txt"] = Small, ["table.csv"] = Changed },
            (await client.Datasets.GetLocalCopyAsync(grandchild.Id)).Path);
    }

    /// <summary>The calls Dataset.create makes (spec §2c), reduced to what matters to a reader.</summary>
    private static async Task<string> CreateTaskAsync(SlipwayClient client, string project, string name, string version)
    {
        await client.Projects.GetOrCreateAsync(project + "/.datasets", ["hidden"]);
        var projectId = await client.Projects.GetOrCreateAsync($"{project}/.datasets/{name}", ["dataset", "hidden"]);
        var created = await client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = name, ["type"] = "data_processing", ["system_tags"] = new JsonArray("development"), ["project"] = projectId,
        });
        var id = created.Str("id")!;
        await client.CallAsync("tasks.edit", new JsonObject { ["task"] = id, ["force"] = true, ["system_tags"] = new JsonArray("dataset", "development") });
        await client.CallAsync("tasks.started", new JsonObject { ["task"] = id });
        await client.CallAsync("tasks.edit", new JsonObject
        {
            ["task"] = id, ["force"] = true, ["runtime"] = new JsonObject { ["orig_dataset_name"] = name, ["orig_dataset_id"] = id, ["version"] = version },
        });
        return id;
    }

    private static (string Path, string Name) Zip(DatasetScratch scratch, string name, bool seekable, params (string Path, byte[] Bytes, CompressionLevel Level)[] entries)
    {
        var path = Path.Combine(scratch.Root, name);
        using (var file = File.Create(path))
        using (var zip = new ZipArchive(seekable ? file : new ForwardOnly(file), ZipArchiveMode.Create))
        {
            foreach (var (entryPath, bytes, level) in entries)
            {
                using var stream = zip.CreateEntry(entryPath, level).Open();
                stream.Write(bytes);
            }
        }
        return (path, $"dataset.{name}.k2j4h_9x.zip");
    }

    private static async Task UploadChunkAsync(SlipwayClient client, string project, string name, string id, string key, (string Path, string Name) zip)
    {
        var projectId = (await client.Projects.FindAsync($"{project}/.datasets/{name}"))!.Id;
        // The SDK quotes the project and task folders once for the upload; the stored URI quotes the whole path again.
        var remote = $"{Quote(project)}/.datasets/{Quote(name)}/{Quote(name)}.{id}/artifacts/{key}/{zip.Name}";
        var url = await client.Files.UploadFileAsync(zip.Path, remote);
        await client.CallAsync("tasks.add_or_update_artifacts", new JsonObject
        {
            ["task"] = id, ["force"] = true,
            ["artifacts"] = new JsonArray(new JsonObject
            {
                ["key"] = key, ["type"] = "custom", ["uri"] = url.AbsoluteUri, ["content_size"] = new FileInfo(zip.Path).Length,
                ["hash"] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(zip.Path))), ["timestamp"] = 1718000000,
                ["type_data"] = new JsonObject { ["preview"] = "…", ["content_type"] = "application/zip" },
            }),
        });
        Assert.NotNull(projectId);
    }

    private static async Task UploadStateAsync(SlipwayClient client, string project, string name, string id, string state)
    {
        var bytes = Encoding.ASCII.GetBytes(state);
        var remote = $"{Quote(project)}/.datasets/{Quote(name)}/{Quote(name)}.{id}/artifacts/state/state.json";
        using var content = new MemoryStream(bytes);
        var url = await client.Files.UploadAsync(content, remote);
        await client.CallAsync("tasks.add_or_update_artifacts", new JsonObject
        {
            ["task"] = id, ["force"] = true,
            ["artifacts"] = new JsonArray(new JsonObject
            {
                ["key"] = "state", ["type"] = "dict", ["uri"] = url.AbsoluteUri, ["content_size"] = bytes.Length, ["timestamp"] = 1718000000,
                ["type_data"] = new JsonObject { ["preview"] = "Dataset state\n", ["content_type"] = "application/json" },
                ["display_data"] = new JsonArray(new JsonArray("files added", "1"), new JsonArray("files removed", "1"), new JsonArray("files modified", "1")),
            }),
        });
    }

    private static string Quote(string segment) => segment.Replace("%", "%25", StringComparison.Ordinal).Replace("#", "%23", StringComparison.Ordinal);

    private static string Entry(string path, byte[] bytes, string owner, string chunk) => $$"""
                {
                    "artifact_name": "{{chunk}}",
                    "hash": "{{Convert.ToHexStringLower(SHA256.HashData(bytes))}}",
                    "parent_dataset_id": "{{owner}}",
                    "relative_path": "{{path}}",
                    "size": {{bytes.Length}}
                }
        """;

    /// <summary>state.json as the SDK prints it: sorted keys, four-space indent, no trailing newline, no chunk lookup (not finalized by the SDK's finalize).</summary>
    private static string State(string id, string[] entries, Dictionary<string, string[]> graph)
    {
        var graphText = string.Join(",\n", graph.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p =>
            p.Value.Length == 0 ? $"        \"{p.Key}\": []" : $"        \"{p.Key}\": [\n{string.Join(",\n", p.Value.Select(v => $"            \"{v}\""))}\n        ]"));
        return $$"""
            {
                "dataset_file_entries": [
            {{string.Join(",\n", entries)}}
                ],
                "dataset_link_entries": [],
                "dependency_graph": {
            {{graphText}}
                },
                "dirty": false,
                "file_count": {{entries.Length}},
                "id": "{{id}}",
                "total_size": 0
            }
            """;
    }

    /// <summary>A write-only stream that cannot seek, so the zip writer puts sizes in data descriptors after each entry.</summary>
    private sealed class ForwardOnly(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
