using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Datasets;
using Slipway.Server.Domain.Projects;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;
using Slipway.Wire;

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
        var id = await tree.CreatePathAsync(name, call.Caller, project => ApplyFields(call, project), call.Aborted, NamedNulls(call));
        return new JsonObject { ["id"] = id };
    }

    private static ProjectDocument ApplyFields(RpcCall call, ProjectDocument project) => project with
    {
        Description = call.Has(ProjectFields.Description) ? call.String(ProjectFields.Description) ?? "" : project.Description,
        Tags = call.StringList(DocumentFields.Tags) is { } tags ? Json.Sorted(tags) : project.Tags,
        SystemTags = call.StringList(DocumentFields.SystemTags) is { } systemTags ? Json.Sorted(systemTags) : project.SystemTags,
        DefaultOutputDestination = call.Has(ProjectFields.DefaultOutputDestination)
            ? call.String(ProjectFields.DefaultOutputDestination)
            : project.DefaultOutputDestination,
    };

    /// <summary>A null default_output_destination is kept as null (the one field a request can set to null).</summary>
    private static IEnumerable<string> NamedNulls(RpcCall call) =>
        DocumentJson.NullsIn(call.Body).Where(field => field == ProjectFields.DefaultOutputDestination);

    private async ValueTask<JsonNode?> GetById(RpcCall call)
    {
        var doc = await RequireAsync(call.RequireString("project"), call.Aborted);
        return new JsonObject { ["project"] = doc.Body };
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var query = ListRequest.Build(call, [DocumentFields.Name, DocumentFields.Id, ProjectFields.Description]);
        var visible = await access.VisibleAsync(call.Caller, Collection.Projects, call.Aborted);
        query.Where(visible);
        if (call.String("basename") is { Length: > 0 } basename)
            query.Where(new FieldMatches(ProjectFields.Basename, ListRequest.CheckedPattern(basename, ProjectFields.Basename)));
        ListRequest.AddIn(call, query, ProjectFields.Parent, ProjectFields.Parent);
        if (call.Bool("shallow_search") && call.StringList(ProjectFields.Parent) is null && call.String(DocumentFields.Name) is null && call.StringList(DocumentFields.Id) is null)
            query.Where(new FieldMissing(ProjectFields.Parent));
        if (query.OrderBy.Count == 0)
            query.OrderBy.Add(new SortKey(DocumentFields.Name, false));
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
        var all = await docs.FindAsync<ProjectDocument>(new DocQuery().Where(visible), ct);
        var byId = all.ToDictionary(p => p.Id);
        var experiments = new DocQuery().Where(new TagMatch("system_tags", TagQuery.Parse(["__$all", "-archived", "-" + DatasetVersions.Tag])));
        var counts = await docs.CountByAsync(Collection.Tasks, experiments, "project", "status", ct);
        foreach (var project in projects.OfType<JsonObject>())
        {
            var id = project["id"]!.GetValue<string>();
            var name = byId.TryGetValue(id, out var self) ? self.Name ?? "" : "";
            var children = all.Where(p => p.Parent == id && (includeHidden || !p.IsHidden)).ToList();
            var subtree = all.Where(p => (p.Name ?? "").StartsWith(name + "/", StringComparison.Ordinal))
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
                ["name"] = c.Name,
            }).ToArray());
            project["hidden"] = self?.IsHidden == true;
        }
    }

    private async ValueTask<JsonNode?> Update(RpcCall call)
    {
        var id = call.RequireString("project");
        var newName = call.String(DocumentFields.Name) is { } requested ? ProjectPaths.Normalize(requested) : null;
        if (newName is not null && await tree.FindByNameAsync(newName, call.Caller.Company, call.Aborted) is { } holder && holder.Id != id)
            throw ApiException.NotUnique($"project name '{newName}'");
        string? oldName = null;
        await docs.UpdateAsync<ProjectDocument>(id, project =>
        {
            oldName = project.Name;
            var renamed = newName is null ? project : project with { Name = newName, Basename = newName.Split('/')[^1] };
            return ApplyFields(call, renamed) with { LastUpdate = Json.Timestamp(clock.GetUtcNow()) };
        }, () => ApiException.InvalidProjectId(id), call.Aborted, NamedNulls(call));
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
        var children = await docs.FindAsync(Collection.Projects, new DocQuery().Where(new FieldStartsWith(DocumentFields.Name, oldName + "/")).Where(Tenants.Filter(company)), ct);
        foreach (var child in children)
        {
            var body = (JsonObject)child.Body.DeepClone();
            var before = child.As<ProjectDocument>();
            DocumentJson.Apply(body, before, before with { Name = newName + before.Name![oldName.Length..] });
            await docs.ReplaceAsync(Collection.Projects, child, body, ct);
        }
    }

    private async ValueTask<JsonNode?> Delete(RpcCall call)
    {
        var doc = await RequireAsync(call.RequireString("project"), call.Aborted);
        var name = doc.As<ProjectDocument>().Name!;
        var subtree = (await docs.FindAsync(Collection.Projects, new DocQuery().Where(new FieldStartsWith(DocumentFields.Name, name + "/")).Where(Tenants.Filter(call.Caller.Company)), call.Aborted))
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
        if (user != AccessControl.Everyone && (await docs.GetAsync<UserDocument>(user, call.Aborted) is not { } target
                                               || Tenants.Of(target.Company) != call.Caller.Company))
            throw ApiException.InvalidId($"Invalid user id (id={user})");
        await docs.UpdateAsync<ProjectDocument>(id, project =>
        {
            // A project from before permissions was open to every member for writing; sharing it keeps that unless changed.
            var permissions = (JsonObject?)project.Permissions?.DeepClone() ?? new JsonObject { [AccessControl.Everyone] = "write" };
            if (level == Level.None)
                permissions.Remove(user);
            else
                permissions[user] = AccessControl.Name(level);
            return project with { Permissions = permissions };
        }, () => ApiException.InvalidProjectId(id), CancellationToken.None);
        await epoch.BumpAsync();
        await audit.RecordAsync("permissions_changed", call.Caller, call.RemoteIp, new JsonObject { ["project"] = id, ["for_user"] = user, ["level"] = given });
        return new JsonObject { ["updated"] = 1 };
    }

    private async Task<StoredDoc> RequireAsync(string id, CancellationToken ct) =>
        await docs.GetAsync(Collection.Projects, id, ct) ?? throw ApiException.InvalidProjectId(id);
}
