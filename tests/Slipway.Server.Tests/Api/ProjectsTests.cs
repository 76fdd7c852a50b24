using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public abstract class ProjectsTests(string engine) : ServerTests(engine)
{
    [Fact]
    public async Task A_root_project_answers_its_parent_as_null_through_updates_and_a_nulled_field_stays_null()
    {
        var leaf = (await Api.OkAsync("projects.create", new JsonObject { ["name"] = "nulls/leaf" }))["id"]!.GetValue<string>();
        var root = (await Api.OkAsync("projects.get_all", new JsonObject { ["name"] = "^nulls$" }))["projects"]![0]!["id"]!.GetValue<string>();
        await Api.OkAsync("projects.update", new JsonObject { ["project"] = root, ["description"] = "top", ["default_output_destination"] = null });

        var top = (await Api.OkAsync("projects.get_by_id", new JsonObject { ["project"] = root }))["project"]!.AsObject();
        Assert.True(top.ContainsKey("parent") && top["parent"] is null, top.ToJsonString());
        Assert.True(top.ContainsKey("default_output_destination") && top["default_output_destination"] is null, top.ToJsonString());
        Assert.Equal("top", top["description"]!.GetValue<string>());
        var child = (await Api.OkAsync("projects.get_by_id", new JsonObject { ["project"] = leaf }))["project"]!.AsObject();
        Assert.Equal(root, child["parent"]!.GetValue<string>());
        Assert.False(child.ContainsKey("default_output_destination"), child.ToJsonString());
    }

    [Fact]
    public async Task Creating_a_path_creates_its_parents_and_names_must_be_unique()
    {
        var leaf = await CreateProjectAsync("team/vision/detector");
        var all = await Api.OkAsync("projects.get_all", new JsonObject { ["only_fields"] = new JsonArray("name", "basename", "parent") });
        var byName = all["projects"]!.AsArray().ToDictionary(p => p!["name"]!.GetValue<string>(), p => p!);
        Assert.Equal(["team", "team/vision", "team/vision/detector"], byName.Keys.Order());
        Assert.Equal("detector", byName["team/vision/detector"]["basename"]!.GetValue<string>());
        Assert.Equal(byName["team/vision"]["id"]!.GetValue<string>(), byName["team/vision/detector"]["parent"]!.GetValue<string>());
        Assert.Equal(leaf, byName["team/vision/detector"]["id"]!.GetValue<string>());
        var duplicate = await Api.CallAsync("projects.create", new JsonObject { ["name"] = "team/vision" });
        Assert.Equal((400, 801), (duplicate.Status, duplicate.Subcode));
        var empty = await Api.CallAsync("projects.create", new JsonObject { ["name"] = "a//b" });
        Assert.Equal(400, empty.Status);
    }

    [Fact]
    public async Task Hidden_dataset_projects_are_listed_only_with_search_hidden()
    {
        var ds = await CreateProjectAsync("dsproj/.datasets/ds1");
        await Api.OkAsync("projects.update", new JsonObject { ["project"] = ds, ["system_tags"] = new JsonArray("dataset", "hidden") });
        var visible = await Api.OkAsync("projects.get_all", new JsonObject { ["name"] = "^dsproj/\\.datasets/ds1$" });
        Assert.Empty(visible["projects"]!.AsArray());
        var hidden = await Api.OkAsync("projects.get_all", new JsonObject { ["name"] = "^dsproj/\\.datasets/ds1$", ["search_hidden"] = true, ["only_fields"] = new JsonArray("id", "system_tags") });
        Assert.Equal(["dataset", "hidden"], hidden["projects"]![0]!["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));
    }

    [Fact]
    public async Task Get_all_ex_reports_task_counts_per_status_with_sub_projects()
    {
        var parent = await CreateProjectAsync("p");
        var child = await CreateProjectAsync("p/c");
        await CreateTaskAsync("a", parent);
        var running = await CreateTaskAsync("b", child);
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = running });
        var reply = await Api.OkAsync("projects.get_all_ex", new JsonObject { ["id"] = new JsonArray(parent), ["include_stats"] = true });
        var project = reply["projects"]![0]!;
        Assert.Equal(1, project["stats"]!["active"]!["status_count"]!["created"]!.GetValue<long>());
        Assert.Equal(1, project["stats"]!["active"]!["status_count"]!["in_progress"]!.GetValue<long>());
        Assert.Equal(2, project["stats"]!["active"]!["total_tasks"]!.GetValue<long>());
        Assert.Equal(1, project["own_tasks"]!.GetValue<long>());
        Assert.Equal(child, project["sub_projects"]![0]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Counts_leave_out_archived_tasks_and_dataset_versions_as_the_experiments_table_does()
    {
        var project = await CreateProjectAsync("counted");
        await CreateTaskAsync("kept", project);
        var archived = await CreateTaskAsync("archived", project);
        await Api.OkAsync("tasks.archive_many", new JsonObject { ["ids"] = new JsonArray(archived) });
        var datasets = await CreateProjectAsync("counted/.datasets/images");
        await Api.OkAsync("projects.update", new JsonObject { ["project"] = datasets, ["system_tags"] = new JsonArray("dataset", "hidden") });
        var version = await CreateTaskAsync("images", datasets);
        await Api.OkAsync("tasks.edit", new JsonObject { ["task"] = version, ["system_tags"] = new JsonArray("dataset"), ["type"] = "data_processing" });

        var stats = (await Api.OkAsync("projects.get_all_ex", new JsonObject { ["id"] = new JsonArray(project) }))["projects"]![0]!;
        Assert.Equal(1, stats["stats"]!["active"]!["total_tasks"]!.GetValue<long>());
        Assert.Equal(1, stats["own_tasks"]!.GetValue<long>());
        var table = await Api.OkAsync("tasks.get_all_ex", new JsonObject
        {
            ["project"] = new JsonArray(project), ["system_tags"] = new JsonArray("__$all", "-archived", "-dataset"), ["only_fields"] = new JsonArray("id"),
        });
        Assert.Single(table["tasks"]!.AsArray());
    }

    [Fact]
    public async Task Renaming_moves_sub_projects_and_deleting_needs_force_when_tasks_remain()
    {
        var parent = await CreateProjectAsync("old");
        await CreateProjectAsync("old/sub");
        var task = await CreateTaskAsync("t", parent);
        await Api.OkAsync("projects.update", new JsonObject { ["project"] = parent, ["name"] = "new" });
        var names = (await Api.OkAsync("projects.get_all", new JsonObject { ["only_fields"] = new JsonArray("name") }))["projects"]!.AsArray().Select(p => p!["name"]!.GetValue<string>());
        Assert.Equal(["new", "new/sub"], names.Order());

        var refused = await Api.CallAsync("projects.delete", new JsonObject { ["project"] = parent });
        Assert.Equal((400, 402), (refused.Status, refused.Subcode));
        var deleted = await Api.OkAsync("projects.delete", new JsonObject { ["project"] = parent, ["force"] = true, ["delete_contents"] = true });
        Assert.Equal(2, deleted["deleted"]!.GetValue<int>());
        Assert.Equal(1, deleted["deleted_tasks"]!.GetValue<int>());
        Assert.Equal(400, (await Api.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = task })).Status);
    }
}

public sealed class ProjectsTestsOnSqlite() : ProjectsTests("sqlite");

public sealed class ProjectsTestsOnPostgres() : ProjectsTests("postgres");
