using System.Text.Json.Nodes;
using Slipway.Client.Datasets;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Datasets;

public sealed class DatasetLineageTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private static readonly Dictionary<string, byte[]> ParentFiles = new(StringComparer.Ordinal)
    {
        ["keep.txt"] = DatasetScratch.Text("kept by the child\n"),
        ["change.txt"] = DatasetScratch.Text("old content\n"),
        ["drop.txt"] = DatasetScratch.Text("removed by the child\n"),
        ["nested/keep.bin"] = DatasetScratch.Bytes(50_000, 7),
    };

    private static async Task<DatasetVersion> MakeAsync(SlipwayClient client, string project, string name, string folder, DatasetCreateOptions? options = null)
    {
        var version = await client.Datasets.CreateAsync(project, name, options);
        await version.AddFilesAsync(folder);
        await version.UploadAsync();
        await version.FinalizeAsync();
        return version;
    }

    [Fact]
    public async Task A_child_inherits_replaces_and_drops_files_and_reads_inherited_ones_from_the_parents_chunks()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var parent = await MakeAsync(client, scratch.Project, "lineage", scratch.Folder("parent", ParentFiles));

        var child = await client.Datasets.CreateAsync(scratch.Project, "lineage", new DatasetCreateOptions { Parents = [parent.Id] });
        Assert.Equal("1.0.1", child.Version);
        Assert.Equal([parent.Id], child.Parents);
        Assert.Equal(ParentFiles.Keys.Order(StringComparer.Ordinal), child.Files.Select(f => f.RelativePath));
        var childFiles = new Dictionary<string, byte[]>(ParentFiles, StringComparer.Ordinal)
        {
            ["change.txt"] = DatasetScratch.Text("new content, longer\n"),
            ["added/new.bin"] = DatasetScratch.Bytes(20_000, 8),
        };
        childFiles.Remove("drop.txt");
        var source = scratch.Folder("child", childFiles);
        Assert.Equal(new DatasetAddResult(1, 1, 2), await child.AddFilesAsync(source));
        Assert.Equal(1, child.RemoveFiles("drop.txt"));
        Assert.Equal(["added/new.bin", "change.txt"], child.PendingFiles);
        await child.UploadAsync();
        await child.FinalizeAsync();

        var read = await client.Datasets.GetAsync(child.Id);
        Assert.Equal(parent.Id, read.Files.Single(f => f.RelativePath == "keep.txt").SourceVersionId);
        Assert.Equal(parent.Id, read.Files.Single(f => f.RelativePath == "nested/keep.bin").SourceVersionId);
        Assert.Equal(child.Id, read.Files.Single(f => f.RelativePath == "change.txt").SourceVersionId);
        Assert.Equal(child.Id, read.Files.Single(f => f.RelativePath == "added/new.bin").SourceVersionId);
        Assert.DoesNotContain(read.Files, f => f.RelativePath == "drop.txt");

        // The child's own chunk holds only what it added or changed.
        var task = await client.Tasks.GetAsync(child.Id);
        var zip = Path.Combine(scratch.Root, "child.zip");
        await client.Files.DownloadAsync(new Uri(task.Artifacts["data"].Uri!), zip);
        using (var archive = System.IO.Compression.ZipFile.OpenRead(zip))
            Assert.Equal(["added/new.bin", "change.txt"], archive.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
        Assert.Equal(1, task.Raw.At("runtime.ds_change_add")!.GetValue<long>());
        Assert.Equal(1, task.Raw.At("runtime.ds_change_remove")!.GetValue<long>());
        Assert.Equal(1, task.Raw.At("runtime.ds_change_modify")!.GetValue<long>());
        var structure = JsonNode.Parse(task.Configuration["Dataset Struct"])!.AsObject();
        Assert.Equal(child.Id, structure["0"].Str("job_id"));
        Assert.Equal(parent.Id, structure[structure["0"]!["parents"]![0]!.GetValue<string>()].Str("job_id"));

        var copy = await client.Datasets.GetLocalCopyAsync(child.Id);
        DatasetScratch.AssertFolder(childFiles, copy.Path);
        Assert.All(Directory.EnumerateFiles(copy.Path, "*", SearchOption.AllDirectories), f => Assert.Null(new FileInfo(f).LinkTarget));
        // The parent's copy is still its own.
        DatasetScratch.AssertFolder(ParentFiles, (await client.Datasets.GetLocalCopyAsync(parent.Id)).Path);
    }

    [Fact]
    public async Task A_grandchild_reads_files_from_every_generation()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var v1 = await MakeAsync(client, scratch.Project, "gen", scratch.Folder("v1", new Dictionary<string, byte[]> { ["one.txt"] = [1], ["two.txt"] = [2] }));
        var v2 = await client.Datasets.CreateAsync(scratch.Project, "gen", new DatasetCreateOptions { Parents = [v1.Id] });
        await v2.AddFilesAsync(scratch.Folder("v2", new Dictionary<string, byte[]> { ["two.txt"] = [22], ["three.txt"] = [3] }));
        await v2.UploadAsync();
        await v2.FinalizeAsync();
        var v3 = await client.Datasets.CreateAsync(scratch.Project, "gen", new DatasetCreateOptions { Parents = [v2.Id], Version = "2.0.0" });
        await v3.AddFilesAsync(scratch.Folder("v3", new Dictionary<string, byte[]> { ["four.txt"] = [4] }));
        await v3.UploadAsync();
        await v3.FinalizeAsync();

        var read = await client.Datasets.GetAsync(v3.Id);
        Assert.Equal("2.0.0", read.Version);
        Assert.Equal([v1.Id, v2.Id, v3.Id, v2.Id], new[] { "one.txt", "three.txt", "four.txt", "two.txt" }.Select(p => read.Files.Single(f => f.RelativePath == p).SourceVersionId));
        var copy = await read.GetLocalCopyAsync();
        DatasetScratch.AssertFolder(new Dictionary<string, byte[]> { ["one.txt"] = [1], ["two.txt"] = [22], ["three.txt"] = [3], ["four.txt"] = [4] }, copy.Path);
    }

    [Fact]
    public async Task Diff_lists_added_removed_and_modified_files_by_hash()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var a = await MakeAsync(client, scratch.Project, "diff", scratch.Folder("a", new Dictionary<string, byte[]> { ["same"] = [1], ["gone"] = [2], ["changed"] = [3] }));
        var b = await client.Datasets.CreateAsync(scratch.Project, "diff", new DatasetCreateOptions { Parents = [a.Id] });
        await b.AddFilesAsync(scratch.Folder("b", new Dictionary<string, byte[]> { ["same"] = [1], ["changed"] = [33], ["new"] = [4] }));
        b.RemoveFiles("gone");
        await b.UploadAsync();
        await b.FinalizeAsync();

        var diff = await client.Datasets.DiffAsync(a.Id, b.Id);
        Assert.Equal(["new"], diff.Added.Select(f => f.RelativePath));
        Assert.Equal(["gone"], diff.Removed.Select(f => f.RelativePath));
        var change = Assert.Single(diff.Modified);
        Assert.Equal(("changed", a.Id, b.Id), (change.After.RelativePath, change.Before.SourceVersionId, change.After.SourceVersionId));
        Assert.NotEqual(change.Before.Hash, change.After.Hash);
        Assert.Equal(1, diff.Unchanged);

        var back = await client.Datasets.DiffAsync(b.Id, a.Id);
        Assert.Equal(["gone"], back.Added.Select(f => f.RelativePath));
        Assert.Equal(["new"], back.Removed.Select(f => f.RelativePath));
    }

    [Fact]
    public async Task Versions_number_themselves_and_list_and_resolve_by_name()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var folder = scratch.Folder("f", new Dictionary<string, byte[]> { ["x"] = [1] });
        var v1 = await MakeAsync(client, scratch.Project, "numbered", folder);
        var v2 = await MakeAsync(client, scratch.Project, "numbered", folder, new DatasetCreateOptions { Parents = [v1.Id] });
        var v3 = await MakeAsync(client, scratch.Project, "numbered", folder, new DatasetCreateOptions { Version = "1.4rc1" });
        var v4 = await MakeAsync(client, scratch.Project, "numbered", folder);
        var open = await client.Datasets.CreateAsync(scratch.Project, "numbered");
        Assert.Equal(["1.0.0", "1.0.1", "1.4rc1", "1.4rc2", "1.4rc3"], new[] { v1, v2, v3, v4, open }.Select(v => v.Version));
        await MakeAsync(client, scratch.Project, "other", folder);

        var versions = await client.Datasets.ListVersionsAsync(scratch.Project, "numbered");
        Assert.Equal([v1.Id, v2.Id, v3.Id, v4.Id, open.Id], versions.Select(v => v.Id));
        Assert.Equal(["completed", "completed", "completed", "completed", "in_progress"], versions.Select(v => v.Status));
        Assert.All(versions.Take(4), v => Assert.Equal((1L, 1L), (v.FileCount, v.TotalSize)));

        Assert.Equal(v4.Id, (await client.Datasets.GetAsync(scratch.Project, "numbered")).Id);
        Assert.Equal(open.Id, (await client.Datasets.GetAsync(scratch.Project, "numbered", includeUnfinished: true)).Id);
        Assert.Equal(v2.Id, (await client.Datasets.GetAsync(scratch.Project, "numbered", "1.0.1")).Id);

        var datasets = await client.Datasets.ListAsync(scratch.Project);
        Assert.Equal(["numbered", "other"], datasets.Select(d => d.Name));
        Assert.Equal(5, datasets[0].Versions.Count);
        Assert.Equal(open.Id, datasets[0].Latest!.Id);
        Assert.Contains(await client.Datasets.ListAsync(), d => d.Project == scratch.Project && d.Name == "other");
        Assert.Empty(await client.Datasets.ListVersionsAsync(scratch.Project, "nothing-here"));
    }
}
