using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Queues;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Domain.Workers;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;
using Slipway.Wire;

namespace Slipway.Server.Api;

/// <summary>queues.*: named queues of tasks, the default queue, reordering, and the atomic pop agents use.</summary>
public sealed class QueuesApi(IDocumentStore docs, AccessControl access, IQueueEntryStore entries, QueueResolver resolver, TaskUpdates updates,
    WorkerDrain drain)
{
    public void Map(RpcRouter router)
    {
        router.Add("queues.create", Create, "name tags system_tags display_name metadata");
        router.Add("queues.get_all", GetAll, ListRequest.Fields + " max_task_entries");
        router.Add("queues.get_all_ex", GetAll, ListRequest.Fields + " max_task_entries");
        router.Add("queues.get_by_id", GetById, "queue max_task_entries");
        router.Add("queues.get_default", GetDefault, "");
        router.Add("queues.update", Update, "queue name tags system_tags display_name metadata force");
        router.Add("queues.delete", Delete, "queue force");
        router.Add("queues.add_task", AddTask, "queue task");
        router.Add("queues.remove_task", RemoveTask, "queue task update_task_status");
        router.Add("queues.move_task_forward", call => Move(call, (index, count) => index - (call.Int("count") ?? 1)), "queue task count");
        router.Add("queues.move_task_backward", call => Move(call, (index, count) => index + (call.Int("count") ?? 1)), "queue task count");
        router.Add("queues.move_task_to_front", call => Move(call, (_, _) => 0), "queue task");
        router.Add("queues.move_task_to_back", call => Move(call, (_, count) => count - 1), "queue task");
        router.Add("queues.get_next_task", GetNextTask, "queue get_task_info task wait worker");
        router.Add("queues.get_num_entries", GetNumEntries, "queue");
        router.Add("queues.peek_task", PeekTask, "queue");
    }

    private async ValueTask<JsonNode?> Create(RpcCall call)
    {
        var name = call.RequireString(DocumentFields.Name);
        if (await resolver.FindByNameAsync(name, call.Caller.Company, call.Aborted) is not null)
            throw ApiException.NotUnique($"queue name '{name}'");
        var id = await resolver.CreateAsync(name, call.StringList(DocumentFields.Tags) ?? [], call.StringList(DocumentFields.SystemTags) ?? [], call.Caller,
            call.Aborted, call.String(QueueFields.DisplayName), call.Object(DocumentFields.Metadata));
        return new JsonObject { ["id"] = id };
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var query = ListRequest.Build(call, [DocumentFields.Name, DocumentFields.Id, QueueFields.DisplayName]);
        query.Where(await access.VisibleAsync(call.Caller, Collection.Queues, call.Aborted));
        if (query.OrderBy.Count == 0)
            query.OrderBy.Add(new SortKey(DocumentFields.Created, false));
        var found = await docs.FindAsync(Collection.Queues, query, call.Aborted);
        var onlyFields = call.StringList("only_fields");
        var withEntries = onlyFields is null || onlyFields.Count == 0 || onlyFields.Any(f => f == QueueFields.Entries || f.StartsWith(QueueFields.Entries + ".", StringComparison.Ordinal));
        var allEntries = withEntries ? await entries.ListManyAsync(found.Select(q => q.Id).ToList(), call.Aborted) : [];
        var max = call.Int("max_task_entries");
        var queues = new JsonArray();
        foreach (var queue in found)
        {
            if (withEntries)
                queue.Body[QueueFields.Entries] = EntriesJson(await VisibleAsync(call, allEntries[queue.Id]), max);
            queues.Add(Json.Project(queue.Body, onlyFields));
        }
        return new JsonObject { ["queues"] = queues };
    }

    /// <summary>Only ids are accepted: the SDK passes a name first and relies on 400/701 to fall back to get_all.</summary>
    private async ValueTask<JsonNode?> GetById(RpcCall call)
    {
        var id = call.RequireString("queue");
        var queue = await docs.GetAsync(Collection.Queues, id, call.Aborted) ?? throw ApiException.InvalidQueueId(id);
        queue.Body[QueueFields.Entries] = EntriesJson(await VisibleAsync(call, await entries.ListAsync(queue.Id, call.Aborted)), call.Int("max_task_entries"));
        return new JsonObject { ["queue"] = queue.Body };
    }

    private async ValueTask<JsonNode?> GetDefault(RpcCall call)
    {
        var queue = await resolver.FindDefaultAsync(call.Caller.Company, call.Aborted) ?? throw ApiException.NoDefaultQueue();
        return new JsonObject { [DocumentFields.Id] = queue.Id, [DocumentFields.Name] = queue.Name };
    }

    private async ValueTask<JsonNode?> Update(RpcCall call)
    {
        var id = call.RequireString("queue");
        var name = call.String(DocumentFields.Name) is { Length: > 0 } given ? given : null;
        if (name is not null && await resolver.FindByNameAsync(name, call.Caller.Company, call.Aborted) is { } holder && holder.Id != id)
            throw ApiException.NotUnique($"queue name '{name}'");
        await docs.UpdateAsync<QueueDocument>(id, queue => queue with
        {
            Name = name ?? queue.Name,
            DisplayName = call.String(QueueFields.DisplayName) ?? queue.DisplayName,
            Tags = call.StringList(DocumentFields.Tags) is { } tags ? Json.Sorted(tags) : queue.Tags,
            SystemTags = call.StringList(DocumentFields.SystemTags) is { } systemTags ? Json.Sorted(systemTags) : queue.SystemTags,
            Metadata = (JsonObject?)call.Object(DocumentFields.Metadata)?.DeepClone() ?? queue.Metadata,
            LastUpdate = updates.Now(),
        }, () => ApiException.InvalidQueueId(id), call.Aborted);
        var fields = new JsonObject();
        foreach (var (key, value) in call.Body.Where(p => p.Key is not ("queue" or "force")))
            fields[key] = value?.DeepClone();
        return new JsonObject { ["updated"] = 1, ["fields"] = fields };
    }

    private async ValueTask<JsonNode?> Delete(RpcCall call)
    {
        var queue = await RequireAsync(call.RequireString("queue"), call.Aborted);
        var queued = await entries.ListAsync(queue.Id, call.Aborted);
        if (queued.Count > 0 && !call.Bool("force"))
            throw ApiException.QueueNotEmpty(queue.Id);
        foreach (var entry in queued)
            await ReturnToPreviousStatusAsync(entry.Task, call.Aborted);
        await entries.DeleteQueueAsync(queue.Id, call.Aborted);
        await docs.DeleteAsync(Collection.Queues, queue.Id, call.Aborted);
        return new JsonObject { ["deleted"] = 1 };
    }

    private async ValueTask<JsonNode?> AddTask(RpcCall call)
    {
        var queue = await RequireAsync(call.RequireString("queue"), call.Aborted);
        var task = await updates.RequireAsync(call.RequireString("task"), call.Aborted);
        if ((await entries.ListAsync(queue.Id, call.Aborted)).Any(e => e.Task == task.Id))
            throw ApiException.NotUnique($"task {task.Id} is already in queue {queue.Id}");
        await entries.AddAsync(queue.Id, task.Id, updates.Now(), call.Aborted);
        return new JsonObject { ["added"] = 1 };
    }

    private async ValueTask<JsonNode?> RemoveTask(RpcCall call)
    {
        var queue = await RequireAsync(call.RequireString("queue"), call.Aborted);
        var task = call.RequireString("task");
        var removed = await entries.RemoveAsync(queue.Id, task, call.Aborted);
        if (removed && call.Bool("update_task_status"))
            await ReturnToPreviousStatusAsync(task, call.Aborted);
        return new JsonObject { ["removed"] = removed ? 1 : 0 };
    }

    private async ValueTask<JsonNode?> Move(RpcCall call, Func<int, int, int> target)
    {
        var queue = await RequireAsync(call.RequireString("queue"), call.Aborted);
        var task = call.RequireString("task");
        var list = await entries.ListAsync(queue.Id, call.Aborted);
        var index = list.FindIndex(e => e.Task == task);
        if (index < 0)
            throw ApiException.InvalidTaskId(task);
        var entry = list[index];
        list.RemoveAt(index);
        var position = Math.Clamp(target(index, list.Count + 1), 0, list.Count);
        list.Insert(position, entry);
        await entries.ReorderAsync(queue.Id, list, call.Aborted);
        return new JsonObject { ["position"] = position };
    }

    /// <summary>
    /// Pops the head atomically. Entries whose task was deleted are dropped; a stopped task is set back to
    /// queued, as the reference does; otherwise the status stays queued for the agent to start. With
    /// <c>wait</c> (seconds, a Slipway extension official clients never send) an empty queue is waited on,
    /// so an agent gets a task the moment it is enqueued instead of at its next poll. A draining worker (named by <c>worker</c>,
    /// another Slipway extension, or an enrolled agent's own) gets no task and <c>draining: true</c>; the drain is looked at
    /// before every pop, so one that starts during the wait holds too.
    /// </summary>
    private async ValueTask<JsonNode?> GetNextTask(RpcCall call)
    {
        var queue = await RequireAsync(call.RequireString("queue"), call.Aborted);
        var worker = call.String("worker") is { Length: > 0 } named ? named : null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(Math.Clamp(call.Long("wait") ?? 0, 0, 60));
        while (true)
        {
            var draining = worker is not null
                ? await drain.DrainReasonAsync(call.Caller.Company, worker, call.Aborted)
                : await drain.CallerDrainReasonAsync(call.Caller, call.Aborted);
            if (draining is not null)
                return new JsonObject { ["draining"] = true, ["drain_reason"] = draining };
            if (await PopAsync(call, queue.Id) is { } popped)
                return popped;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await entries.WaitForEntryAsync(queue.Id, left, call.Aborted))
                return null;
        }
    }

    /// <summary>
    /// An admin's worker takes the head; anyone else's takes the first task it may change, so a member's agent never runs (and
    /// so never reads) a task of a project it has no write access to: such tasks wait for a worker that may.
    /// </summary>
    private async Task<QueueEntry?> TakeAsync(RpcCall call, string queueId)
    {
        if (call.Caller.IsAdmin)
            return await entries.PopAsync(queueId, call.Aborted);
        foreach (var entry in await entries.ListAsync(queueId, call.Aborted))
        {
            var task = await docs.GetAsync(Collection.Tasks, entry.Task, call.Aborted);
            if ((task is null || await access.LevelAsync(call.Caller, Collection.Tasks, task.Body, call.Aborted) >= Level.Write)
                && await entries.RemoveAsync(queueId, entry.Task, call.Aborted))
                return entry;
        }
        return null;
    }

    private async Task<JsonObject?> PopAsync(RpcCall call, string queueId)
    {
        while (await TakeAsync(call, queueId) is { } entry)
        {
            var task = await docs.GetAsync<TaskDocument>(entry.Task, call.Aborted);
            if (task is null)
                continue;
            if (task.Status == TaskStatuses.Stopped)
            {
                await updates.ChangeStatusAsync(entry.Task, TaskStatuses.Queued, force: true, "", "", call.Aborted);
            }
            var result = new JsonObject { ["entry"] = new JsonObject { ["task"] = entry.Task, ["added"] = entry.Added } };
            if (call.Bool("get_task_info"))
            {
                result["task_info"] = new JsonObject
                {
                    [DocumentFields.Company] = task.Company,
                    [DocumentFields.User] = task.User,
                };
            }
            return result;
        }
        return null;
    }

    private async ValueTask<JsonNode?> GetNumEntries(RpcCall call)
    {
        var queue = await RequireAsync(call.RequireString("queue"), call.Aborted);
        return new JsonObject { ["num"] = await entries.CountAsync(queue.Id, call.Aborted) };
    }

    private async ValueTask<JsonNode?> PeekTask(RpcCall call)
    {
        var queue = await RequireAsync(call.RequireString("queue"), call.Aborted);
        var head = (await VisibleAsync(call, await entries.ListAsync(queue.Id, call.Aborted))).FirstOrDefault();
        return head is null ? null : new JsonObject { ["task"] = head.Task };
    }

    private async Task ReturnToPreviousStatusAsync(string taskId, CancellationToken ct)
    {
        var task = await docs.GetAsync<TaskDocument>(taskId, ct);
        if (task is null || task.Status != TaskStatuses.Queued)
            return;
        var previous = task.EnqueueStatus ?? TaskStatuses.Created;
        await updates.ChangeStatusAsync(taskId, previous, force: true, "dequeued", "", ct, (body, _, _) =>
        {
            body.Remove(TaskFields.EnqueueStatus);
            (body[TaskFields.Execution] as JsonObject)?.Remove(QueueFields.TaskQueue);
        });
    }

    private async Task<QueueDocument> RequireAsync(string id, CancellationToken ct) =>
        await docs.GetAsync<QueueDocument>(id, ct) ?? throw ApiException.InvalidQueueId(id);

    /// <summary>A queue's entries as the caller may see them: only tasks it may read (the queue is shared, its tasks are not).</summary>
    private async Task<List<QueueEntry>> VisibleAsync(RpcCall call, List<QueueEntry> list)
    {
        if (list.Count == 0 || call.Caller.IsAdmin || !access.Enabled)
            return list;
        var query = new DocQuery().Where(new FieldIn("id", list.Select(e => e.Task).Distinct().ToList()))
            .Where(await access.VisibleAsync(call.Caller, Collection.Tasks, call.Aborted));
        var readable = (await docs.FindAsync(Collection.Tasks, query, call.Aborted)).Select(t => t.Id).ToHashSet();
        return list.Where(e => readable.Contains(e.Task)).ToList();
    }

    private static JsonArray EntriesJson(List<QueueEntry> list, int? max) =>
        new(list.Take(max ?? int.MaxValue).Select(e => (JsonNode)new JsonObject { ["task"] = e.Task, ["added"] = e.Added }).ToArray());
}
