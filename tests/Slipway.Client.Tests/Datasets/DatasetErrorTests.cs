using Slipway.Client.Datasets;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Datasets;

public sealed class DatasetErrorTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    [Fact]
    public async Task Adding_a_missing_path_fails_clearly()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await client.Datasets.CreateAsync(scratch.Project, "missing");
        var e = await Assert.ThrowsAsync<SlipwayException>(() => version.AddFilesAsync(Path.Combine(scratch.Root, "nope")));
        Assert.Contains("no such file or folder", e.Message, StringComparison.Ordinal);
        Assert.Empty(version.Files);
    }

    [Fact]
    public async Task Unknown_ids_and_names_fail_clearly()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetAsync("0123456789abcdef0123456789abcdef"));
        Assert.Contains("no dataset version with id '0123456789abcdef0123456789abcdef'", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetLocalCopyAsync("0123456789abcdef0123456789abcdef"));
        Assert.Contains("no dataset version", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetAsync(scratch.Project, "no-such-dataset"));
        Assert.Contains("no finalized version of the dataset 'no-such-dataset'", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.CreateAsync(scratch.Project, "orphan", new DatasetCreateOptions { Parents = ["0123456789abcdef0123456789abcdef"] }));
        Assert.Contains("no dataset version", e.Message, StringComparison.Ordinal);

        var project = await client.Projects.GetOrCreateAsync(scratch.Project + "-plain");
        var created = await client.CallAsync("tasks.create", new System.Text.Json.Nodes.JsonObject { ["name"] = "not a dataset", ["project"] = project, ["type"] = "training" });
        e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetAsync(created.Str("id")!));
        Assert.Contains("is not a dataset version", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Finalizing_before_uploading_fails_and_the_version_stays_open()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var version = await client.Datasets.CreateAsync(scratch.Project, "early");
        await version.AddFilesAsync(scratch.Folder("src", new Dictionary<string, byte[]> { ["x"] = [1] }));
        var e = await Assert.ThrowsAsync<SlipwayException>(() => version.FinalizeAsync());
        Assert.Contains("not uploaded yet", e.Message, StringComparison.Ordinal);
        Assert.Equal("in_progress", (await client.Tasks.GetAsync(version.Id)).Status);
        await version.UploadAsync();
        await version.FinalizeAsync();
    }

    [Fact]
    public async Task A_finalized_version_refuses_changes_and_an_open_one_refuses_reading_and_parenting()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var folder = scratch.Folder("src", new Dictionary<string, byte[]> { ["x"] = [1] });
        var open = await client.Datasets.CreateAsync(scratch.Project, "state");
        await open.AddFilesAsync(folder);
        await open.UploadAsync();

        var e = await Assert.ThrowsAsync<SlipwayException>(() => open.GetLocalCopyAsync());
        Assert.Contains("not finalized", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetLocalCopyAsync(open.Id));
        Assert.Contains("not finalized", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.CreateAsync(scratch.Project, "state", new DatasetCreateOptions { Parents = [open.Id] }));
        Assert.Contains("not finalized", e.Message, StringComparison.Ordinal);

        await open.FinalizeAsync();
        foreach (var finalized in new[] { open, await client.Datasets.GetAsync(open.Id) })
        {
            e = await Assert.ThrowsAsync<SlipwayException>(() => finalized.AddFilesAsync(folder));
            Assert.Contains("cannot add files to dataset version", e.Message, StringComparison.Ordinal);
            Assert.Contains("completed", e.Message, StringComparison.Ordinal);
            Assert.Throws<SlipwayException>(() => finalized.RemoveFiles("x"));
            await Assert.ThrowsAsync<SlipwayException>(() => finalized.UploadAsync());
            await Assert.ThrowsAsync<SlipwayException>(() => finalized.FinalizeAsync());
        }
    }

    [Fact]
    public async Task A_file_changed_after_it_was_added_is_not_uploaded_silently()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var folder = scratch.Folder("src", new Dictionary<string, byte[]> { ["x.txt"] = DatasetScratch.Text("before") });
        var version = await client.Datasets.CreateAsync(scratch.Project, "changed");
        await version.AddFilesAsync(folder);
        File.WriteAllText(Path.Combine(folder, "x.txt"), "after!");
        var e = await Assert.ThrowsAsync<SlipwayException>(() => version.UploadAsync());
        Assert.Contains("changed after it was added", e.Message, StringComparison.Ordinal);
        Assert.Equal(["x.txt"], version.PendingFiles);

        await version.AddFilesAsync(folder);
        await version.UploadAsync();
        await version.FinalizeAsync();
        Assert.Equal("after!", File.ReadAllText(Path.Combine((await version.GetLocalCopyAsync()).Path, "x.txt")));
    }

    [Fact]
    public async Task A_parent_whose_chunks_are_gone_fails_with_the_file_it_needed()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var parent = await client.Datasets.CreateAsync(scratch.Project, "gone");
        await parent.AddFilesAsync(scratch.Folder("p", new Dictionary<string, byte[]> { ["old.txt"] = [1] }));
        await parent.UploadAsync();
        await parent.FinalizeAsync();
        var child = await client.Datasets.CreateAsync(scratch.Project, "gone", new DatasetCreateOptions { Parents = [parent.Id] });
        await child.FinalizeAsync();
        await client.Tasks.DeleteAsync(parent.Id, force: true);

        var e = await Assert.ThrowsAsync<SlipwayException>(() => client.Datasets.GetLocalCopyAsync(child.Id));
        Assert.Contains($"dataset version {parent.Id}, which holds 'old.txt'", e.Message, StringComparison.Ordinal);
    }
}
