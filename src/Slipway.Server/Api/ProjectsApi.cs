using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Datasets;
using Slipway.Server.Domain.Projects;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>projects.*: path-named projects with auto-created parents, hidden projects, and task statistics.</summary>
public sealed class ProjectsApi(IDocumentStore docs, AccessControl access, ProjectTree tree, TaskDeletion deletion, SecurityEpoch epoch, AuditLog audit, TimeProvider clock)
{
    private const string WriteFields = "name description tags system_tags default_output_destination";

    public void Map(RpcRouter router)
    {
        router.Add("projects.create", Create, WriteFields);
        router.Add("projects.get_by_id", GetById, "project");
        router.Add("projects.get_all", GetAll, ListRequest.Fields + " basename parent shallow_search include_stats stats_for_state check_own_contents active_users non_public");
        router.Add("projects.get_all_ex", GetAll, ListRequest.Fields + " basename parent shallow_search include_stats stats_for_state check_own_contents active_users non_public stats_with_children include_stats_filter children_type allow_public");
        router.Add("projects.update", Update, "project " + WriteFields);
        router.Add("projects.delete", Delete, "project force delete_contents");
        router.Add("projects.set_permissions", SetPermissions, "project user level");
    }

    private async ValueTask<JsonNode?> Create(RpcCall call)
    {
        var name = call.RequireString("name");
        await access.CheckProjectPathAsync(call.Caller, name, tree, mayExist: false, call.Aborted);
        var id = await tree.CreatePathAsync(name, call.Caller, doc => ApplyFields(call, doc), call.Aborted);
        return new JsonObject { ["id"] = id };
    }

    private static void ApplyFields(RpcCall call, JsonObject doc)
    {
        if (call.Has("description"))
            doc["description"] = call.String("description") ?? "";
        if (call.StringList("tags") is { } tags)
            doc["tags"] = Json.SortedStrings(tags);
        if (call.StringList("system_tags") is { } systemTags)
            doc["system_tags"] = Json.SortedStrings(systemTags);
        if (call.Has("default_output_destination"))
            doc["default_output_destination"] = call.String("default_output_destination");
    }

    private async ValueTask<JsonNode?> GetById(RpcCall call)
    {
        var doc = await RequireAsync(call.RequireString("project"), call.Aborted);
        return new JsonObject { ["project"] = doc.Body };
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var query = ListRequest.Build(call, ["name", "id", "description"]);
        var visible = await access.VisibleAsync(call.Caller, Collection.Projects, call.Aborted);
        query.Where(visible);
        if (call.String("basename") is { Length: > 0 } basename)
            query.Where(new FieldMatches("basename", ListRequest.CheckedPattern(basename, "basename")));
        ListRequest.AddIn(call, query, "parent", "parent");
        if (call.Bool("shallow_search") && call.StringList("parent") is null && call.String("name") is null && call.StringList("id") is null)
            query.Where(new FieldMissing("parent"));
        if (query.OrderBy.Count == 0)
            query.OrderBy.Add(new SortKey("name", false));
        var found = await docs.FindAsync(Collection.Projects, query, call.Aborted);
        var onlyFields = call.StringList("only_fields");
        var projects = new JsonArray();
        foreach (var doc in found)
            projects.Add(Json.Project(doc.Body, onlyFields));
        if (call.Endpoint == "projects.get_all_ex" || call.Bool("include_stats"))
            await AddStatsAsync(projects, visible, call.Bool("search_hidden"), call.Aborted);
        return new JsonObject { ["projects"] = projects };
    }

    /// <summary>
    /// Adds what the UI shows per project: experiment counts per status (with sub-projects), the project's own count, and the
    /// sub-projects. Experiments are what the experiments table lists: archived tasks and dataset versions (tasks too, in
    /// hidden ".datasets" sub-projects) are left out, so a project's count matches its table.
    /// </summary>
    private async Task AddStatsAsync(JsonArray projects, DocFilter visible, bool includeHidden, CancellationToken ct)
    {
        var all = await docs.FindAsync(Collection.Projects, new DocQuery().Where(visible), ct);
        var byId = all.ToDictionary(p => p.Id);
        var experiments = new DocQuery().Where(new TagMatch("system_tags", TagQuery.Parse(["__$all", "-archived", "-" + DatasetVersions.Tag])));
        var counts = await docs.CountByAsync(Collection.Tasks, experiments, "project", "status", ct);
        foreach (var project in projects.OfType<JsonObject>())
        {
            var id = project["id"]!.GetValue<string>();
            var name = byId.TryGetValue(id, out var self) ? Json.GetString(self.Body, "name") ?? "" : "";
            var children = all.Where(p => Json.GetString(p.Body, "parent") == id
                                          && (includeHidden || !Json.GetStrings(p.Body, "system_tags").Contains("hidden"))).ToList();
            var subtree = all.Where(p => (Json.GetString(p.Body, "name") ?? "").StartsWith(name + "/", StringComparison.Ordinal))
                .Select(p => p.Id).Append(id).ToHashSet();
            var statusCount = new JsonObject();
            foreach (var status in TaskStatuses.All)
                statusCount[status] = counts.Where(c => c.Key2 == status && c.Key1 is not null && subtree.Contains(c.Key1)).Sum(c => c.Count);
            var own = counts.Where(c => c.Key1 == id).Sum(c => c.Count);
            project["stats"] = new JsonObject
            {
                ["active"] = new JsonObject
                {
                    ["status_count"] = statusCount,
                    ["total_tasks"] = counts.Where(c => c.Key1 is not null && subtree.Contains(c.Key1)).Sum(c => c.Count),
                },
            };
            project["own_tasks"] = own;
            project["sub_projects"] = new JsonArray(children.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id,
                ["name"] = Json.GetString(c.Body, "name"),
            }).ToArray());
            project["hidden"] = self is not null && Json.GetStrings(self.Body, "system_tags").Contains("hidden");
        }
    }

    private async ValueTask<JsonNode?> Update(RpcCall call)
    {
        var id = call.RequireString("project");
        var newName = call.String("name") is { } requested ? ProjectPaths.Normalize(requested) : null;
        if (newName is not null && await tree.FindByNameAsync(newName, call.Caller.Company, call.Aborted) is { } holder && holder.Id != id)
            throw ApiException.NotUnique($"project name '{newName}'");
        string? oldName = null;
        await docs.UpdateAsync(Collection.Projects, id, body =>
        {
            oldName = Json.GetString(body, "name");
            if (newName is not null)
            {
                body["name"] = newName;
                body["basename"] = newName.Split('/')[^1];
            }
            ApplyFields(call, body);
            body["last_update"] = Json.Timestamp(clock.GetUtcNow());
        }, () => ApiException.InvalidProjectId(id), call.Aborted);
        if (newName is not null && oldName is not null && newName != oldName)
        {
            await RenameChildrenAsync(oldName, newName, call.Caller.Company, call.Aborted);
            await epoch.BumpAsync();
        }
        var fields = new JsonObject();
        foreach (var (key, value) in call.Body)
        {
            if (key != "project")
                fields[key] = value?.DeepClone();
        }
        return new JsonObject { ["updated"] = 1, ["fields"] = fields };
    }

    private async Task RenameChildrenAsync(string oldName, string newName, string company, CancellationToken ct)
    {
        var children = await docs.FindAsync(Collection.Projects, new DocQuery().Where(new FieldStartsWith("name", oldName + "/")).Where(Tenants.Filter(company)), ct);
        foreach (var child in children)
        {
            var body = (JsonObject)child.Body.DeepClone();
            body["name"] = newName + Json.GetString(body, "name")![oldName.Length..];
            await docs.ReplaceAsync(Collection.Projects, child, body, ct);
        }
    }

    private async ValueTask<JsonNode?> Delete(RpcCall call)
    {
        var doc = await RequireAsync(call.RequireString("project"), call.Aborted);
        var name = Json.GetString(doc.Body, "name")!;
        var subtree = (await docs.FindAsync(Collection.Projects, new DocQuery().Where(new FieldStartsWith("name", name + "/")).Where(Tenants.Filter(call.Caller.Company)), call.Aborted))
            .Append(doc).ToList();
        var projectIds = subtree.Select(p => p.Id).ToList();
        var tasks = await docs.FindAsync(Collection.Tasks, new DocQuery().Where(new FieldIn("project", projectIds)), call.Aborted);
        var force = call.Bool("force");
        var deleteContents = call.Bool("delete_contents");
        if (tasks.Count > 0 && !force && !deleteContents)
            throw new ApiException(400, 402, $"Project has associated tasks, use force to delete (id={doc.Id}, tasks={tasks.Count})");
        long deletedTasks = 0, disassociated = 0;
        foreach (var task in tasks)
        {
            if (deleteContents)
            {
                await deletion.DeleteAsync(task, deleteOutputModels: true, call.Aborted);
                deletedTasks++;
            }
            else
            {
                var body = (JsonObject)task.Body.DeepClone();
                body.Remove("project");
                if (await docs.ReplaceAsync(Collection.Tasks, task, body, call.Aborted))
                    disassociated++;
            }
        }
        foreach (var project in subtree)
            await docs.DeleteAsync(Collection.Projects, project.Id, CancellationToken.None);
        await epoch.BumpAsync();
        return new JsonObject { ["deleted"] = subtree.Count, ["disassociated_tasks"] = disassociated, ["deleted_tasks"] = deletedTasks };
    }

    /// <summary>
    /// An owner grants a user (or "*", every member of the tenant) read, write or owner on the project and its sub-projects,
    /// or takes a grant away with "none". The creator stays owner whatever the map says.
    /// </summary>
    private async ValueTask<JsonNode?> SetPermissions(RpcCall call)
    {
        var id = call.RequireString("project");
        var user = call.RequireString("user");
        var given = call.RequireString("level");
        var level = AccessControl.Parse(given);
        if (level == Level.None && given != "none")
            throw ApiException.Validation("level must be none, read, write or owner");
        if (user != AccessControl.Everyone && (await docs.GetAsync(Collection.Users, user, call.Aborted) is not { } target
                                               || Tenants.Of(target.Body) != call.Caller.Company))
            throw ApiException.InvalidId($"Invalid user id (id={user})");
        await docs.UpdateAsync(Collection.Projects, id, body =>
        {
            if (body["permissions"] is not JsonObject permissions)
            {
                // A project from before permissions was open to every member for writing; sharing it keeps that unless changed.
                permissions = new JsonObject { [AccessControl.Everyone] = "write" };
                body["permissions"] = permissions;
            }
            if (level == Level.None)
                permissions.Remove(user);
            else
                permissions[user] = AccessControl.Name(level);
        }, () => ApiException.InvalidProjectId(id), CancellationToken.None);
        await epoch.BumpAsync();
        await audit.RecordAsync("permissions_changed", call.Caller, call.RemoteIp, new JsonObject { ["project"] = id, ["for_user"] = user, ["level"] = given });
        return new JsonObject { ["updated"] = 1 };
    }

    private async Task<StoredDoc> RequireAsync(string id, CancellationToken ct) =>
        await docs.GetAsync(Collection.Projects, id, ct) ?? throw ApiException.InvalidProjectId(id);
}
