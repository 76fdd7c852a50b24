using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public abstract class DatasetsTests(string engine) : ServerTests(engine)
{
    /// <summary>The calls the SDK's Dataset.create / finalize make (spec §2c), for a version with the given parents.</summary>
    private async Task<string> CreateVersionAsync(string project, string version, long files, long size, params (string Id, string Version)[] parents)
    {
        var task = await CreateTaskAsync("ds1", project, "data_processing", new JsonObject { ["system_tags"] = new JsonArray("development") });
        await Api.OkAsync("tasks.edit", new JsonObject { ["task"] = task, ["force"] = true, ["system_tags"] = new JsonArray("dataset", "development") });
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task });
        await Api.OkAsync("tasks.edit_hyper_params", new JsonObject
        {
            ["task"] = task, ["replace_hyperparams"] = "none",
            ["hyperparams"] = new JsonArray(new JsonObject { ["section"] = "properties", ["name"] = "version", ["value"] = version }),
        });
        var structure = new JsonObject
        {
            ["0"] = new JsonObject
            {
                ["job_id"] = task, ["status"] = "in_progress", ["parents"] = new JsonArray(parents.Select((_, i) => (JsonNode)(i + 1).ToString()).ToArray()),
                ["job_size"] = size, ["name"] = "ds1", ["version"] = version,
            },
        };
        for (var i = 0; i < parents.Length; i++)
        {
            structure[(i + 1).ToString()] = new JsonObject
            {
                ["job_id"] = parents[i].Id, ["status"] = "completed", ["parents"] = new JsonArray(), ["job_size"] = 1, ["name"] = "ds1", ["version"] = parents[i].Version,
            };
        }
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = task, ["force"] = true,
            ["runtime"] = new JsonObject
            {
                ["orig_dataset_name"] = "ds1", ["orig_dataset_id"] = task, ["version"] = version, ["ds_file_count"] = files, ["ds_link_count"] = 0,
                ["ds_total_size"] = size, ["ds_total_size_compressed"] = size / 2, ["ds_change_add"] = 1, ["ds_change_remove"] = 0, ["ds_change_modify"] = 1, ["ds_change_size"] = 5,
            },
            ["configuration"] = new JsonObject
            {
                ["Dataset Struct"] = new JsonObject { ["name"] = "Dataset Struct", ["value"] = structure.ToJsonString(), ["type"] = "json" },
                ["Dataset Content"] = new JsonObject { ["name"] = "Dataset Content", ["value"] = "file,size", ["type"] = "CSV" },
            },
        });
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = task, ["status_reason"] = "completed", ["publish"] = false });
        return task;
    }

    [Fact]
    public async Task Datasets_versions_and_lineage_are_listed_without_reading_chunks()
    {
        var project = await CreateProjectAsync("dsproj/.datasets/ds1");
        await Api.OkAsync("projects.update", new JsonObject { ["project"] = project, ["system_tags"] = new JsonArray("dataset", "hidden") });
        var v1 = await CreateVersionAsync(project, "1.0.0", 3, 75_010);
        var v2 = await CreateVersionAsync(project, "1.0.1", 4, 75_015, (v1, "1.0.0"));
        var v3 = await CreateVersionAsync(project, "1.0.2", 5, 80_000, (v2, "1.0.1"));

        var all = await Api.OkAsync("datasets.get_all");
        var dataset = Assert.Single(all["datasets"]!.AsArray())!;
        Assert.Equal(("ds1", "dsproj", 3), (dataset["name"]!.GetValue<string>(), dataset["project"]!.GetValue<string>(), dataset["versions"]!.GetValue<int>()));
        Assert.Equal("1.0.2", dataset["latest"]!["version"]!.GetValue<string>());
        Assert.Empty((await Api.OkAsync("datasets.get_all", new JsonObject { ["name"] = "^other$" }))["datasets"]!.AsArray());
        Assert.Single((await Api.OkAsync("datasets.get_all", new JsonObject { ["project"] = "dsproj" }))["datasets"]!.AsArray());
        Assert.Null(dataset["all_versions"]);
        var withVersions = Assert.Single((await Api.OkAsync("datasets.get_all", new JsonObject { ["include_versions"] = true }))["datasets"]!.AsArray())!;
        Assert.Equal(["1.0.0", "1.0.1", "1.0.2"], withVersions["all_versions"]!.AsArray().Select(v => v!["version"]!.GetValue<string>()));

        var versions = (await Api.OkAsync("datasets.get_versions", new JsonObject { ["dataset"] = project }))["versions"]!.AsArray();
        Assert.Equal(["1.0.0", "1.0.1", "1.0.2"], versions.Select(v => v!["version"]!.GetValue<string>()));
        Assert.Equal((4L, 75_015L, 37_507L), (versions[1]!["file_count"]!.GetValue<long>(), versions[1]!["total_size"]!.GetValue<long>(), versions[1]!["total_size_compressed"]!.GetValue<long>()));
        Assert.Equal([v1], versions[1]!["parents"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal("completed", versions[2]!["status"]!.GetValue<string>());

        await Api.OkAsync("tasks.delete", new JsonObject { ["task"] = v2 });
        var lineage = (await Api.OkAsync("datasets.get_lineage", new JsonObject { ["version"] = v3 }))["lineage"]!.AsArray();
        Assert.Equal([v3, v2], lineage.Select(l => l!["id"]!.GetValue<string>()));
        Assert.True(lineage[1]!["deleted"]!.GetValue<bool>());
        Assert.Equal("1.0.1", lineage[1]!["version"]!.GetValue<string>());
        var notDataset = await CreateTaskAsync("plain");
        Assert.Equal(400, (await Api.CallAsync("datasets.get_lineage", new JsonObject { ["version"] = notDataset })).Status);
    }

    [Fact]
    public async Task A_versions_file_list_is_read_from_its_manifest_and_only_by_who_may_read_the_version()
    {
        var project = await CreateProjectAsync("filesproj/.datasets/ds1");
        var parent = await CreateVersionAsync(project, "1.0.0", 1, 10);
        var version = await CreateVersionAsync(project, "1.0.1", 2, 20, (parent, "1.0.0"));
        var before = await Api.OkAsync("datasets.get_files", new JsonObject { ["version"] = version });
        Assert.Empty(before["files"]!.AsArray());
        Assert.Contains("no file list yet", before["unavailable"]!.GetValue<string>(), StringComparison.Ordinal);

        // The manifest as the SDK uploads it: state.json on the file server, named by the version's "state" artifact.
        var manifest = new JsonObject
        {
            ["dataset_file_entries"] = new JsonArray(
                new JsonObject { ["relative_path"] = "b/two.csv", ["size"] = 12, ["hash"] = "bb", ["parent_dataset_id"] = parent },
                new JsonObject { ["relative_path"] = "a/one.csv", ["size"] = 8, ["hash"] = "aa" }),
            ["dataset_link_entries"] = new JsonArray(new JsonObject { ["relative_path"] = "far.bin", ["size"] = 3, ["link"] = "s3://bucket/far.bin" }),
        };
        var path = $"filesproj/.datasets/ds1/ds1.{version}/artifacts/state/state.json";
        using (var http = new HttpClient { BaseAddress = Server.Server.FilesUrl })
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Api.Token);
            var bytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
            (await http.PostAsync("/", new MultipartFormDataContent { { new ByteArrayContent(bytes), "/" + path, "/" + path } })).EnsureSuccessStatusCode();
        }
        await Api.OkAsync("tasks.edit", new JsonObject
        {
            ["task"] = version, ["force"] = true,
            ["execution"] = new JsonObject
            {
                ["artifacts"] = new JsonArray(new JsonObject { ["key"] = "state", ["type"] = "dict", ["mode"] = "output", ["uri"] = new Uri(Server.Server.FilesUrl, path).ToString() }),
            },
        });

        var listed = await Api.OkAsync("datasets.get_files", new JsonObject { ["version"] = version });
        Assert.Null(listed["unavailable"]);
        var files = listed["files"]!.AsArray();
        Assert.Equal(["a/one.csv", "b/two.csv"], files.Select(f => f!["path"]!.GetValue<string>()));
        Assert.Equal((8L, "aa", version), (files[0]!["size"]!.GetValue<long>(), files[0]!["hash"]!.GetValue<string>(), files[0]!["source"]!.GetValue<string>()));
        Assert.Equal(parent, files[1]!["source"]!.GetValue<string>());
        Assert.Equal("s3://bucket/far.bin", Assert.Single(listed["links"]!.AsArray())!["link"]!.GetValue<string>());

        // Another tenant's member sees no such version; a plain task is not a dataset version.
        var (stranger, _) = await SignInAsNewUserAsync("member", company: "other-co");
        using var theirs = Server.ClientWithToken(stranger);
        Assert.Equal(400, (await theirs.CallAsync("datasets.get_files", new JsonObject { ["version"] = version })).Status);
        Assert.Equal(400, (await Api.CallAsync("datasets.get_files", new JsonObject { ["version"] = await CreateTaskAsync("plain") })).Status);
    }
}

public sealed class DatasetsTestsOnSqlite() : DatasetsTests("sqlite");

public sealed class DatasetsTestsOnPostgres() : DatasetsTests("postgres");
