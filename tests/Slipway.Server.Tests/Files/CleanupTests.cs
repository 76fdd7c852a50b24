using System.Text.Json.Nodes;
using Slipway.Server.Domain.StoredFiles;
using Slipway.Server.Tests.Api;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Files;

public abstract class CleanupTests(string engine) : ServerTests(engine)
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);

    protected override TimeProvider? Clock => _clock;

    private async Task<JsonObject> RunCleanupAsync(bool dryRun = false) =>
        await Api.OkAsync("files.run_cleanup", new JsonObject { ["dry_run"] = dryRun });

    /// <summary>
    /// The invariant cleanup keeps: every file a live task or model points at exists (nothing missing), and
    /// every stored file is pointed at or still waiting for its re-check (nothing orphaned for good).
    /// </summary>
    private async Task AssertNoOrphanedAndNoMissingFilesAsync()
    {
        var root = Path.Combine(Server.DataDir, "files");
        var stored = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).Where(f => !f.StartsWith(".slipway", StringComparison.Ordinal)).ToHashSet();
        var ports = new HashSet<int> { Server.Server.FilesUrl.Port };
        var referenced = new HashSet<string>();
        foreach (var collection in new[] { Slipway.Server.Storage.Collection.Tasks, Slipway.Server.Storage.Collection.Models })
        {
            foreach (var doc in await Server.Server.Stores.Docs.FindAsync(collection, new Slipway.Server.Storage.DocQuery()))
                referenced.UnionWith(FileReferences.PathsIn(doc.Body, ports));
        }
        var pending = (await Api.OkAsync("files.get_cleanup"))["pending"]!.AsArray().Select(p => p!["path"]!.GetValue<string>()).ToHashSet();
        Assert.Empty(referenced.Except(stored));
        Assert.Empty(stored.Except(referenced).Except(pending));
    }

    [Fact]
    public async Task Deleting_a_task_removes_its_files_but_keeps_a_model_a_clone_still_uses()
    {
        var task = await CreateTaskAsync("exp");
        var folder = $"proj/exp.{task}";
        var artifact = await UploadAsync($"{folder}/artifacts/stats/stats.json", [1]);
        var image = await UploadAsync($"{folder}/metrics/img/s/img_s_00000001.jpeg", [2]);
        var weights = await UploadAsync($"{folder}/models/weights.bin", [3]);
        var other = await CreateTaskAsync("other");
        var unrelated = await UploadAsync($"proj/other.{other}/artifacts/keep/keep.txt", [4]);
        await Api.OkAsync("tasks.add_or_update_artifacts", new JsonObject
        {
            ["task"] = other, ["artifacts"] = new JsonArray(new JsonObject { ["key"] = "keep", ["type"] = "custom", ["uri"] = unrelated }),
        });
        await Api.OkAsync("tasks.add_or_update_artifacts", new JsonObject
        {
            ["task"] = task, ["artifacts"] = new JsonArray(new JsonObject { ["key"] = "stats", ["type"] = "dict", ["uri"] = artifact }),
        });
        await Api.AddBatchAsync([new JsonObject { ["type"] = "training_debug_image", ["task"] = task, ["metric"] = "img", ["variant"] = "s", ["iter"] = 1, ["url"] = image }]);
        var model = (await Api.OkAsync("models.create", new JsonObject { ["uri"] = weights, ["name"] = "w", ["task"] = task }))["id"]!.GetValue<string>();
        await Api.OkAsync("tasks.add_or_update_model", new JsonObject { ["task"] = task, ["name"] = "w", ["model"] = model, ["type"] = "output" });
        var clone = (await Api.OkAsync("tasks.clone", new JsonObject { ["task"] = task }))["id"]!.GetValue<string>();
        await Api.OkAsync("tasks.edit", new JsonObject { ["task"] = clone, ["models"] = new JsonObject { ["input"] = new JsonArray(new JsonObject { ["name"] = "w", ["model"] = model }) } });

        await Api.OkAsync("tasks.delete", new JsonObject { ["task"] = task, ["delete_output_models"] = true });
        var dry = await RunCleanupAsync(dryRun: true);
        Assert.Equal([$"{folder}/artifacts/stats/stats.json", $"{folder}/metrics/img/s/img_s_00000001.jpeg"], dry["would_delete"]!.AsArray().Select(p => p!.GetValue<string>()).Order());
        Assert.True(await FileExistsAsync($"{folder}/artifacts/stats/stats.json"));

        var done = await RunCleanupAsync();
        Assert.Equal(2, done["deleted"]!.AsArray().Count);
        Assert.False(await FileExistsAsync($"{folder}/artifacts/stats/stats.json"));
        Assert.False(await FileExistsAsync($"{folder}/metrics/img/s/img_s_00000001.jpeg"));
        Assert.True(await FileExistsAsync($"{folder}/models/weights.bin"));
        Assert.True(await FileExistsAsync($"proj/other.{other}/artifacts/keep/keep.txt"));
        Assert.Equal(200, (await Api.CallAsync("models.get_by_id", new JsonObject { ["model"] = model })).Status);
        await AssertNoOrphanedAndNoMissingFilesAsync();

        // Once the model itself is deleted, nothing points at the weights any more.
        await Api.OkAsync("models.delete", new JsonObject { ["model"] = model });
        Assert.Single((await RunCleanupAsync())["deleted"]!.AsArray());
        Assert.False(await FileExistsAsync($"{folder}/models/weights.bin"));
        Assert.Empty((await Api.OkAsync("files.get_cleanup"))["pending"]!.AsArray());
        await AssertNoOrphanedAndNoMissingFilesAsync();
    }

    [Fact]
    public async Task A_parent_dataset_versions_chunks_stay_while_a_child_needs_them()
    {
        var parent = await CreateTaskAsync("ds1", type: "data_processing", extra: new JsonObject { ["system_tags"] = new JsonArray("dataset") });
        var child = await CreateTaskAsync("ds1", type: "data_processing", extra: new JsonObject { ["system_tags"] = new JsonArray("dataset") });
        var parentChunk = $"dsproj/.datasets/ds1/ds1.{parent}/artifacts/data/dataset.{parent}.zip";
        var childChunk = $"dsproj/.datasets/ds1/ds1.{child}/artifacts/data/dataset.{child}.zip";
        foreach (var (task, path) in new[] { (parent, parentChunk), (child, childChunk) })
        {
            var url = await UploadAsync(path, [7]);
            await Api.OkAsync("tasks.add_or_update_artifacts", new JsonObject
            {
                ["task"] = task, ["artifacts"] = new JsonArray(new JsonObject { ["key"] = "data", ["type"] = "custom", ["uri"] = url }),
            });
        }
        var structure = new JsonObject
        {
            ["0"] = new JsonObject { ["job_id"] = child, ["parents"] = new JsonArray("1") },
            ["1"] = new JsonObject { ["job_id"] = parent, ["parents"] = new JsonArray() },
        };
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = child,
            ["configuration"] = new JsonObject { ["Dataset Struct"] = new JsonObject { ["name"] = "Dataset Struct", ["value"] = structure.ToJsonString(), ["type"] = "json" } },
        });

        await Api.OkAsync("tasks.delete", new JsonObject { ["task"] = parent });
        var first = await RunCleanupAsync();
        Assert.Contains(child, first["kept"]![0]!["why"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(await FileExistsAsync(parentChunk));
        await AssertNoOrphanedAndNoMissingFilesAsync();

        await Api.OkAsync("tasks.delete", new JsonObject { ["task"] = child });
        Assert.Equal([childChunk], (await RunCleanupAsync())["deleted"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.True(await FileExistsAsync(parentChunk));
        _clock.Advance(FileCleanup.RecheckReferenced + TimeSpan.FromMinutes(1));
        Assert.Equal([parentChunk], (await RunCleanupAsync())["deleted"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.False(await FileExistsAsync(parentChunk));
        await AssertNoOrphanedAndNoMissingFilesAsync();
    }
}

public sealed class CleanupTestsOnSqlite() : CleanupTests("sqlite");

public sealed class CleanupTestsOnPostgres() : CleanupTests("postgres");

public sealed class CleanupRestartTests
{
    [Fact]
    public async Task Pending_deletions_survive_a_restart()
    {
        var server = await ServerUnderTest.StartAsync("sqlite");
        var (task, path) = await server.CreateTaskWithArtifactAsync();
        await server.Client.OkAsync("tasks.delete", new JsonObject { ["task"] = task });
        await server.StopAsync();

        await using var again = await ServerUnderTest.StartAsync("sqlite", dataDir: server.DataDir);
        using var client = again.ClientWithToken(await ServerUnderTest.LoginAsync(again.Api, server.Admin.AccessKey, server.Admin.SecretKey));
        Assert.Equal(path, (await client.OkAsync("files.get_cleanup"))["pending"]![0]!["path"]!.GetValue<string>());
        Assert.Equal(path, (await client.OkAsync("files.run_cleanup"))["deleted"]![0]!.GetValue<string>());
        Assert.False(File.Exists(Path.Combine(server.DataDir, "files", path)));
    }

    [Fact]
    public async Task Files_registered_on_an_earlier_files_port_are_still_found()
    {
        var server = await ServerUnderTest.StartAsync("sqlite");
        var (task, path) = await server.CreateTaskWithArtifactAsync();
        await server.StopAsync();

        var otherPort = Enumerable.Range(0, 10).Select(_ => LoopbackPort.Free()).First(p => p != server.Server.FilesUrl.Port);
        await using var again = await ServerUnderTest.StartAsync("sqlite", dataDir: server.DataDir, filesPort: otherPort);
        using var client = again.ClientWithToken(await ServerUnderTest.LoginAsync(again.Api, server.Admin.AccessKey, server.Admin.SecretKey));
        await client.OkAsync("tasks.delete", new JsonObject { ["task"] = task });
        Assert.Equal(path, (await client.OkAsync("files.run_cleanup"))["deleted"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task The_background_pass_removes_files_on_its_own()
    {
        await using var server = await ServerUnderTest.StartAsync("sqlite", cleanupInterval: TimeSpan.FromSeconds(1));
        var (task, path) = await server.CreateTaskWithArtifactAsync();
        var file = Path.Combine(server.DataDir, "files", path);
        Assert.True(File.Exists(file));
        await server.Client.OkAsync("tasks.delete", new JsonObject { ["task"] = task });
        for (var waited = 0; File.Exists(file) && waited < 30_000; waited += 100)
            await Task.Delay(100);
        Assert.False(File.Exists(file), "the background pass did not remove the file within 30 s");
    }

    [Fact]
    public void Retries_back_off_up_to_an_hour() =>
        Assert.Equal([2, 4, 8, 3600], new long[] { 1, 2, 3, 30 }.Select(a => FileCleanup.Backoff(a).TotalSeconds));
}
