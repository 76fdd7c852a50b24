using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain.Projects;
using Slipway.Server.Domain.Queues;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>tasks.*: create, query, edit, the status state machine, clone, enqueue, parameters and configuration.</summary>
public sealed class TasksApi(IDocumentStore docs, AccessControl access, IEventStore events, IQueueEntryStore queueEntries, TaskUpdates updates, QueueResolver queues, ProjectTree projects,
    TaskDeletion deletion)
{
    private const string StatusFields = "task force status_reason status_message";
    private const long TotalLimit = 10_000;
    private const string DefinitionFields = "name type project system_tags tags comment parent output_dest script execution hyperparams configuration models container runtime";

    public void Map(RpcRouter router)
    {
        router.Add("tasks.create", Create, DefinitionFields);
        router.Add("tasks.get_by_id", GetById, "task");
        router.Add("tasks.get_by_id_ex", GetAll, ListRequest.Fields + " project status type user parent include_subprojects allow_public status_changed last_update");
        router.Add("tasks.get_all", GetAll, ListRequest.Fields + " project status type user parent include_subprojects allow_public status_changed last_update");
        router.Add("tasks.get_all_ex", GetAll, ListRequest.Fields + " project status type user parent include_subprojects allow_public status_changed last_update");
        router.Add("tasks.edit", Edit, "task force " + DefinitionFields);
        router.Add("tasks.update", Update, "task name tags system_tags comment project force");
        router.Add("tasks.started", Started, StatusFields);
        router.Add("tasks.stopped", call => Status(call, TaskStatuses.Stopped), StatusFields);
        router.Add("tasks.failed", call => Status(call, TaskStatuses.Failed), StatusFields);
        router.Add("tasks.close", call => Status(call, TaskStatuses.Closed), StatusFields);
        router.Add("tasks.completed", Completed, StatusFields + " publish");
        router.Add("tasks.publish", Publish, StatusFields + " publish_model");
        router.Add("tasks.stop", Stop, StatusFields);
        router.Add("tasks.ping", Ping, "task");
        router.Add("tasks.reset", Reset, StatusFields + " clear_all delete_output_models delete_external_artifacts return_file_urls");
        router.Add("tasks.clone", Clone, "task new_task_name new_task_comment new_task_tags new_task_system_tags new_task_parent new_task_project new_task_hyperparams new_task_configuration new_task_container new_task_input_models execution_overrides new_project_name validate_references");
        router.Add("tasks.enqueue", Enqueue, StatusFields + " queue queue_name verify_watched_queue update_execution_queue");
        router.Add("tasks.dequeue", Dequeue, StatusFields + " new_status remove_from_all_queues");
        router.Add("tasks.delete", Delete, StatusFields + " move_to_trash delete_output_models return_file_urls delete_external_artifacts include_pipeline_steps");
        router.Add("tasks.delete_many", DeleteMany, "ids force move_to_trash delete_output_models return_file_urls delete_external_artifacts include_pipeline_steps status_reason status_message");
        router.Add("tasks.archive_many", call => Archive(call, true), "ids status_reason status_message");
        router.Add("tasks.unarchive_many", call => Archive(call, false), "ids status_reason status_message");
    }

    private async ValueTask<JsonNode?> Create(RpcCall call)
    {
        var name = call.RequireString("name");
        var type = call.RequireString("type");
        if (!TaskDocuments.Types.Contains(type))
            throw ApiException.Validation($"invalid task type '{type}'");
        await RequireProjectAsync(call.String("project"), call.Aborted);
        var id = Guid.NewGuid().ToString("N");
        var task = TaskDocuments.New(id, name, type, call.Caller.User, call.Caller.Company, updates.Now());
        TaskDocuments.ApplyEdit(task, DefinitionFrom(call, except: ["name", "type"]), updates.Now());
        if (!await docs.InsertAsync(Collection.Tasks, id, task, call.Aborted))
            throw ApiException.NotUnique($"task id {id}");
        return new JsonObject { ["id"] = id };
    }

    private async ValueTask<JsonNode?> GetById(RpcCall call)
    {
        var task = await updates.RequireAsync(call.RequireString("task"), call.Aborted);
        return new JsonObject { ["task"] = Present(task.Body) };
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var query = ListRequest.Build(call, ["name", "id", "comment"]);
        query.Where(await access.VisibleAsync(call.Caller, Collection.Tasks, call.Aborted, call.StringList("project")));
        ListRequest.AddIn(call, query, "project", "project");
        ListRequest.AddIn(call, query, "status", "status");
        ListRequest.AddIn(call, query, "type", "type");
        ListRequest.AddIn(call, query, "user", "user");
        ListRequest.AddIn(call, query, "parent", "parent");
        var found = await docs.FindAsync(Collection.Tasks, query, call.Aborted);
        var onlyFields = call.StringList("only_fields");
        var tasks = new JsonArray();
        foreach (var doc in found)
            tasks.Add(Json.Project(Present(doc.Body), onlyFields));
        var answer = new JsonObject { ["tasks"] = tasks };
        // A page of get_all_ex also says how many match, for a table's pager: exactly up to TotalLimit, and that there
        // are more beyond it (a count that stops there costs the same for any project size, on either engine).
        if (call.Endpoint == "tasks.get_all_ex" && query.Take is not null)
        {
            var total = await docs.CountUpToAsync(Collection.Tasks, query, TotalLimit + 1, call.Aborted);
            answer["total"] = Math.Min(total, TotalLimit);
            answer["total_more"] = total > TotalLimit;
        }
        return answer;
    }

    private async ValueTask<JsonNode?> Edit(RpcCall call)
    {
        var id = call.RequireString("task");
        var force = call.Bool("force");
        var fields = DefinitionFrom(call, except: []);
        if (fields.ContainsKey("type") && !TaskDocuments.Types.Contains(fields["type"]?.GetValue<string>() ?? ""))
            throw ApiException.Validation("invalid task type");
        if (fields.ContainsKey("project"))
            await RequireProjectAsync(call.String("project"), call.Aborted);
        await updates.UpdateAsync(id, task =>
        {
            var status = task["status"]?.GetValue<string>();
            if (!force && status != TaskStatuses.Created)
                throw ApiException.InvalidTaskStatus($"expected={TaskStatuses.Created}, status={status}");
            TaskDocuments.ApplyEdit(task, fields, updates.Now());
        }, call.Aborted);
        return new JsonObject { ["updated"] = 1, ["fields"] = Echo(call, "task", "force") };
    }

    private async ValueTask<JsonNode?> Update(RpcCall call)
    {
        var id = call.RequireString("task");
        var fields = DefinitionFrom(call, except: []);
        if (fields.ContainsKey("project"))
            await RequireProjectAsync(call.String("project"), call.Aborted);
        await updates.UpdateAsync(id, task => TaskDocuments.ApplyEdit(task, fields, updates.Now()), call.Aborted);
        return new JsonObject { ["updated"] = 1, ["fields"] = Echo(call, "task", "force") };
    }

    private async ValueTask<JsonNode?> Started(RpcCall call)
    {
        var (task, fields) = await updates.ChangeStatusAsync(call.RequireString("task"), TaskStatuses.InProgress, call.Bool("force"),
            call.String("status_reason"), call.String("status_message"), call.Aborted, (task, fields, _) =>
            {
                var now = fields["status_changed"]!.GetValue<string>();
                task["started"] ??= now;
                fields["started"] = task["started"]!.DeepClone();
                task.Remove("enqueue_status");
            });
        return new JsonObject { ["updated"] = 1, ["started"] = 1, ["fields"] = fields };
    }

    private async ValueTask<JsonNode?> Status(RpcCall call, string status)
    {
        var (_, fields) = await updates.ChangeStatusAsync(call.RequireString("task"), status, call.Bool("force"),
            call.String("status_reason"), call.String("status_message"), call.Aborted);
        return new JsonObject { ["updated"] = 1, ["fields"] = fields };
    }

    private async ValueTask<JsonNode?> Completed(RpcCall call)
    {
        var id = call.RequireString("task");
        var (_, fields) = await updates.ChangeStatusAsync(id, TaskStatuses.Completed, call.Bool("force"),
            call.String("status_reason"), call.String("status_message"), call.Aborted, (task, fields, _) =>
            {
                task["completed"] = fields["status_changed"]!.DeepClone();
                fields["completed"] = task["completed"]!.DeepClone();
            });
        var published = false;
        if (call.Bool("publish"))
        {
            (_, fields) = await PublishAsync(id, force: true, call);
            published = true;
        }
        return new JsonObject { ["updated"] = 1, ["published"] = published ? 1 : 0, ["fields"] = fields };
    }

    private async ValueTask<JsonNode?> Publish(RpcCall call)
    {
        var (_, fields) = await PublishAsync(call.RequireString("task"), call.Bool("force"), call);
        return new JsonObject { ["updated"] = 1, ["committed_versions_results"] = new JsonArray(), ["fields"] = fields };
    }

    private Task<(JsonObject, JsonObject)> PublishAsync(string id, bool force, RpcCall call) =>
        updates.ChangeStatusAsync(id, TaskStatuses.Published, force, call.String("status_reason"), call.String("status_message"), call.Aborted,
            (task, fields, _) =>
            {
                task["published"] = fields["status_changed"]!.DeepClone();
                fields["published"] = task["published"]!.DeepClone();
            });

    /// <summary>
    /// Aborting a task that a worker runs only asks it to stop (status_message "stopping"; the SDK or agent in
    /// it sees that and stops itself); anything else is stopped at once.
    /// </summary>
    private async ValueTask<JsonNode?> Stop(RpcCall call)
    {
        var id = call.RequireString("task");
        var current = await updates.RequireAsync(id, call.Aborted);
        var status = current.Body["status"]?.GetValue<string>();
        var runByWorker = status == TaskStatuses.InProgress && !string.IsNullOrEmpty(Json.GetString(current.Body, "last_worker"))
                          && !Json.GetStrings(current.Body, "system_tags").Contains("development");
        if (runByWorker && !call.Bool("force"))
        {
            var fields = new JsonObject();
            await updates.UpdateAsync(id, task =>
            {
                task["status_message"] = "stopping";
                task["status_reason"] = call.String("status_reason") ?? "";
                task["last_update"] = updates.Now();
                fields["status_message"] = "stopping";
            }, call.Aborted);
            return new JsonObject { ["updated"] = 1, ["fields"] = fields };
        }
        if (status == TaskStatuses.Queued)
            await queueEntries.RemoveEverywhereAsync(id, call.Aborted);
        return await Status(call, TaskStatuses.Stopped);
    }

    private async ValueTask<JsonNode?> Ping(RpcCall call)
    {
        await updates.UpdateAsync(call.RequireString("task"), task => task["last_update"] = updates.Now(), call.Aborted);
        return null;
    }

    private async ValueTask<JsonNode?> Reset(RpcCall call)
    {
        var id = call.RequireString("task");
        var current = await updates.RequireAsync(id, call.Aborted);
        if (!call.Bool("force") && current.Body["status"]?.GetValue<string>() == TaskStatuses.Published)
            throw ApiException.InvalidTaskStatus("a published task can only be reset with force");
        var dequeued = (await queueEntries.RemoveEverywhereAsync(id, call.Aborted)).Count > 0;
        await events.DeleteTaskEventsAsync(id, call.Aborted);
        var clearAll = call.Bool("clear_all");
        var task = await updates.UpdateAsync(id, task => TaskDocuments.Reset(task, clearAll, updates.Now()), call.Aborted);
        return new JsonObject
        {
            ["updated"] = 1,
            ["dequeued"] = dequeued ? new JsonObject { ["removed"] = 1 } : new JsonObject(),
            ["deleted_models"] = 0,
            ["urls"] = new JsonObject(),
            ["fields"] = new JsonObject { ["status"] = TaskStatuses.Created, ["status_reason"] = "reset", ["status_message"] = "reset", ["last_update"] = task["last_update"]!.DeepClone() },
        };
    }

    private async ValueTask<JsonNode?> Clone(RpcCall call)
    {
        var sourceId = call.RequireString("task");
        var source = await updates.RequireAsync(sourceId, call.Aborted);
        var id = Guid.NewGuid().ToString("N");
        var now = updates.Now();
        var clone = TaskDocuments.Clone(source.Body, id, call.Caller.User, call.Caller.Company, now);
        clone["parent"] = call.String("new_task_parent") ?? Json.GetString(source.Body, "parent") ?? sourceId;
        if (call.String("new_task_name") is { Length: > 0 } name)
            clone["name"] = name;
        if (call.Has("new_task_comment"))
            clone["comment"] = call.String("new_task_comment") ?? "";
        if (call.StringList("new_task_tags") is { } tags)
            clone["tags"] = Json.SortedStrings(tags);
        if (call.StringList("new_task_system_tags") is { } systemTags)
            clone["system_tags"] = Json.SortedStrings(systemTags);
        string? newProject = null;
        if (call.String("new_project_name") is { Length: > 0 } projectName)
        {
            await access.CheckProjectPathAsync(call.Caller, projectName, projects, mayExist: true, call.Aborted);
            newProject = await projects.EnsureAsync(projectName, call.Caller, call.Aborted);
            clone["project"] = newProject;
        }
        else if (call.Has("new_task_project"))
        {
            await RequireProjectAsync(call.String("new_task_project"), call.Aborted);
            clone["project"] = call.String("new_task_project");
        }
        foreach (var (field, target) in new[] { ("new_task_hyperparams", "hyperparams"), ("new_task_configuration", "configuration"), ("new_task_container", "container") })
        {
            if (call.Object(field) is { } value)
                clone[target] = value.DeepClone();
        }
        if (call.Array("new_task_input_models") is { } inputModels)
            Json.Set(clone, "models.input", inputModels.DeepClone());
        if (call.Object("execution_overrides") is { } overrides)
            TaskDocuments.ApplyEdit(clone, new JsonObject { ["execution"] = overrides.DeepClone() }, now);
        if (!await docs.InsertAsync(Collection.Tasks, id, clone, call.Aborted))
            throw ApiException.NotUnique($"task id {id}");
        var result = new JsonObject { ["id"] = id };
        if (newProject is not null)
            result["new_project"] = new JsonObject { ["id"] = newProject, ["name"] = call.String("new_project_name") };
        return result;
    }

    private async ValueTask<JsonNode?> Enqueue(RpcCall call)
    {
        var id = call.RequireString("task");
        var queue = await queues.ResolveForEnqueueAsync(call.String("queue"), call.String("queue_name"), call.Caller, call.Aborted);
        var (_, fields) = await updates.ChangeStatusAsync(id, TaskStatuses.Queued, call.Bool("force"),
            call.String("status_reason"), call.String("status_message"), call.Aborted, (task, fields, previous) =>
            {
                // Re-enqueueing keeps the status the task had before it was first queued.
                var before = previous == TaskStatuses.Queued ? Json.GetString(task, "enqueue_status") ?? TaskStatuses.Created : previous;
                task["enqueue_status"] = before;
                Json.Set(task, "execution.queue", queue);
                task["system_tags"] = Json.SortedStrings(Json.GetStrings(task, "system_tags").Where(t => t != "development"));
                fields["enqueue_status"] = before;
                fields["execution.queue"] = queue;
            });
        await queueEntries.RemoveEverywhereAsync(id, call.Aborted);
        await queueEntries.AddAsync(queue, id, updates.Now(), call.Aborted);
        return new JsonObject { ["updated"] = 1, ["queued"] = 1, ["queue_watched"] = false, ["fields"] = fields };
    }

    /// <summary>
    /// Takes a task off its queues and back to the status it had before (or <c>new_status</c>). The agent
    /// dequeues a task it already started, with new_status; that still sets the status, as the reference does.
    /// </summary>
    private async ValueTask<JsonNode?> Dequeue(RpcCall call)
    {
        var id = call.RequireString("task");
        var current = await updates.RequireAsync(id, call.Aborted);
        var newStatus = call.String("new_status");
        if (newStatus is not null && !TaskStatuses.All.Contains(newStatus))
            throw ApiException.Validation($"invalid new_status '{newStatus}'");
        var queued = current.Body["status"]?.GetValue<string>() == TaskStatuses.Queued;
        if (!queued && newStatus is null && !call.Bool("force"))
            throw ApiException.InvalidTaskStatus($"the task is not queued (status={current.Body["status"]})");
        var removed = (await queueEntries.RemoveEverywhereAsync(id, call.Aborted)).Count;
        var target = newStatus ?? Json.GetString(current.Body, "enqueue_status") ?? TaskStatuses.Created;
        var (_, fields) = await updates.ChangeStatusAsync(id, target, force: true, call.String("status_reason") ?? "dequeued",
            call.String("status_message") ?? "", call.Aborted, (task, fields, _) =>
            {
                task.Remove("enqueue_status");
                (task["execution"] as JsonObject)?.Remove("queue");
            });
        // The SDK's model types dequeued as 0 or 1 here (reset, by contrast, answers queues.remove_task's object).
        return new JsonObject { ["updated"] = 1, ["dequeued"] = removed > 0 ? 1 : 0, ["fields"] = fields };
    }

    private async ValueTask<JsonNode?> Delete(RpcCall call)
    {
        var id = call.RequireString("task");
        await DeleteTaskAsync(id, call.Bool("force"), call.Bool("delete_output_models"), call.Aborted);
        return new JsonObject
        {
            ["deleted"] = 1,
            ["updated_children"] = 0,
            ["updated_models"] = 0,
            ["events"] = new JsonObject(),
            ["urls"] = new JsonObject(),
        };
    }

    private async ValueTask<JsonNode?> DeleteMany(RpcCall call)
    {
        var ids = call.StringList("ids") ?? throw ApiException.MissingField("ids");
        return await BulkResult.RunAsync(ids, async id =>
        {
            await DeleteTaskAsync(id, call.Bool("force"), call.Bool("delete_output_models"), call.Aborted);
            return new JsonObject { ["deleted"] = true };
        });
    }

    /// <summary>A running task is deleted only with force; the rest is <see cref="TaskDeletion"/>.</summary>
    private async Task DeleteTaskAsync(string id, bool force, bool deleteOutputModels, CancellationToken ct)
    {
        var task = await updates.RequireAsync(id, ct);
        if (!force && task.Body["status"]?.GetValue<string>() == TaskStatuses.InProgress)
            throw ApiException.InvalidTaskStatus("a task in progress can only be deleted with force");
        await deletion.DeleteAsync(task, deleteOutputModels, ct);
    }

    private async ValueTask<JsonNode?> Archive(RpcCall call, bool archive)
    {
        var ids = call.StringList("ids") ?? throw ApiException.MissingField("ids");
        return await BulkResult.RunAsync(ids, async id =>
        {
            if (archive)
                await queueEntries.RemoveEverywhereAsync(id, call.Aborted);
            await updates.UpdateAsync(id, task =>
            {
                var tags = Json.GetStrings(task, "system_tags");
                task["system_tags"] = Json.SortedStrings(archive ? tags.Append("archived") : tags.Where(t => t != "archived"));
                if (archive && task["status"]?.GetValue<string>() == TaskStatuses.Queued)
                {
                    var previous = Json.GetString(task, "enqueue_status") ?? TaskStatuses.Created;
                    TaskDocuments.SetStatus(task, previous, call.String("status_reason") ?? "archived", call.String("status_message") ?? "", updates.Now());
                    (task["execution"] as JsonObject)?.Remove("queue");
                }
                task["last_change"] = updates.Now();
            }, call.Aborted);
            return new JsonObject { [archive ? "archived" : "unarchived"] = true };
        });
    }

    /// <summary>The definition fields present in the call, type-checked (objects must be objects, tag lists string lists).</summary>
    private static JsonObject DefinitionFrom(RpcCall call, string[] except)
    {
        var fields = new JsonObject();
        foreach (var field in TaskDocuments.EditableFields)
        {
            if (except.Contains(field) || !call.Body.TryGetPropertyValue(field, out var value))
                continue;
            switch (field)
            {
                case "tags" or "system_tags":
                    fields[field] = new JsonArray((call.StringList(field) ?? []).Select(t => (JsonNode)t).ToArray());
                    break;
                case "script" or "execution" or "output" or "models" or "hyperparams" or "configuration" or "container" or "runtime":
                    if (value is not null and not JsonObject)
                        throw ApiException.Validation($"field '{field}' must be an object");
                    fields[field] = value?.DeepClone() ?? new JsonObject();
                    break;
                default:
                    fields[field] = value is null ? null : JsonValue.Create(call.String(field));
                    break;
            }
        }
        if (fields["hyperparams"] is JsonObject hyperparams)
            CheckSections(hyperparams, "hyperparams");
        if (fields["configuration"] is JsonObject configuration)
            CheckItems(configuration, "configuration");
        return fields;
    }

    private static void CheckSections(JsonObject sections, string field)
    {
        foreach (var (name, section) in sections)
        {
            if (section is not JsonObject items)
                throw ApiException.Validation($"{field}.{name} must be an object");
            CheckItems(items, $"{field}.{name}");
        }
    }

    /// <summary>Items must be objects; their text fields are stored as strings, since the SDK's models reject anything else.</summary>
    private static void CheckItems(JsonObject items, string field)
    {
        foreach (var (name, item) in items)
        {
            if (item is not JsonObject obj)
                throw ApiException.Validation($"{field}.{name} must be an object");
            foreach (var key in new[] { "section", "name", "value", "type", "description" })
            {
                if (obj[key] is JsonNode v && v.GetValueKind() != JsonValueKind.String)
                    obj[key] = v.ToJsonString();
            }
        }
    }

    private async Task RequireProjectAsync(string? project, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(project) && await docs.GetAsync(Collection.Projects, project, ct) is null)
            throw ApiException.InvalidProjectId(project);
    }

    /// <summary>The task as clients see it: internal fields are left out.</summary>
    private static JsonObject Present(JsonObject task)
    {
        task.Remove("enqueue_status");
        return task;
    }

    private static JsonObject Echo(RpcCall call, params string[] except)
    {
        var fields = new JsonObject();
        foreach (var (key, value) in call.Body)
        {
            if (!except.Contains(key))
                fields[key] = value?.DeepClone();
        }
        return fields;
    }
}
