using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Domain.Workers;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;
using Slipway.Wire;

namespace Slipway.Server.Api;

/// <summary>
/// workers.*: agents register, report their status every ~30 s (an unknown worker reporting is registered),
/// and drop out of get_all once their timeout passes without a report.
/// </summary>
public sealed class WorkersApi(IDocumentStore docs, AccessControl access, IQueueEntryStore queueEntries, TaskUpdates tasks, TimeProvider clock)
{
    public const int DefaultTimeoutSeconds = 600;

    public void Map(RpcRouter router)
    {
        router.Add("workers.register", Register, "worker queues timeout tags system_tags");
        // The official agent sends its queues along when it unregisters.
        router.Add("workers.unregister", Unregister, "worker queues");
        router.Add("workers.status_report", StatusReport, "worker timestamp task queue queues machine_stats tags system_tags interruption");
        router.Add("workers.get_all", GetAll, "last_seen tags system_tags worker_pattern");
        router.Add("workers.get_stats", GetStats, "worker_ids from_date to_date interval items split_by_variant");
        router.Add("workers.get_activity_report", GetActivityReport, "from_date to_date interval");
    }

    private async ValueTask<JsonNode?> Register(RpcCall call)
    {
        var timeout = call.Int("timeout") ?? DefaultTimeoutSeconds;
        if (timeout <= 0)
            throw ApiException.Validation("timeout must be positive");
        await UpsertAsync(call, worker => worker with { Timeout = timeout, RegisterTime = Json.Timestamp(clock.GetUtcNow()) });
        return null;
    }

    private async ValueTask<JsonNode?> Unregister(RpcCall call)
    {
        var id = call.RequireString("worker");
        if (!await docs.DeleteAsync(Collection.Workers, Tenants.WorkerKey(call.Caller.Company, id), call.Aborted))
            throw new ApiException(400, 1004, $"Worker is not registered (worker={id})");
        return null;
    }

    /// <summary>Records what the worker is doing; a task it runs learns its worker (for abort handling and the watchdog).</summary>
    private async ValueTask<JsonNode?> StatusReport(RpcCall call)
    {
        if (call.Long("timestamp") is null)
            throw ApiException.MissingField("timestamp");
        var taskId = call.String("task");
        // A Slipway extension: the agent read its machine's interruption notice (a spot reclaim). It stays on the worker
        // until it unregisters, so the autoscaler sees it at its next pass whatever the agent reports after.
        var interruption = call.String(WorkerFields.Interruption) is { Length: > 0 } notice ? notice : null;
        if (interruption is { Length: > 2000 })
            throw ApiException.Validation("interruption must be at most 2000 characters");
        // A report names its queue, or says none with an explicit null; an idle worker's document has no task.
        var reported = await UpsertAsync(call, worker => worker with
        {
            Task = taskId is { Length: > 0 } ? new WorkerTask { Id = taskId } : null,
            Queue = call.String(WorkerFields.Queue),
            MachineStats = (JsonObject?)call.Object(WorkerFields.MachineStats)?.DeepClone() ?? worker.MachineStats,
            Interruption = worker.Interruption ?? interruption,
            InterruptionTime = worker.Interruption is null && interruption is not null ? Json.Timestamp(clock.GetUtcNow()) : worker.InterruptionTime,
        }, [WorkerFields.Queue]);
        var statsId = Guid.NewGuid().ToString("N");
        await docs.InsertAsync(Collection.WorkerStats, statsId, new JsonObject
        {
            ["id"] = statsId,
            ["worker"] = call.RequireString("worker"),
            ["company"] = call.Caller.Company,
            ["ts"] = clock.GetUtcNow().ToUnixTimeSeconds(),
            ["active"] = taskId is { Length: > 0 },
            ["stats"] = call.Object("machine_stats")?.DeepClone(),
        }, call.Aborted);
        if (taskId is { Length: > 0 } && await docs.GetAsync(Collection.Tasks, taskId, call.Aborted) is not null)
        {
            var workerId = call.RequireString("worker");
            await tasks.UpdateAsync(taskId, task =>
            {
                task["last_worker"] = workerId;
                task["last_worker_report"] = tasks.Now();
            }, call.Aborted);
        }
        // The official agent ignores the answer's fields; Slipway's agent stops taking work when it reads draining.
        return WorkerDrain.IsDraining(reported)
            ? new JsonObject { ["draining"] = true, ["drain_reason"] = Json.GetString(reported, "drain_reason") ?? WorkerDrain.Draining }
            : null;
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var now = clock.GetUtcNow();
        var lastSeen = call.Int("last_seen");
        var pattern = call.String("worker_pattern") is { Length: > 0 } p ? ListRequest.Pattern(p, "worker_pattern") : null;
        var query = new DocQuery { OrderBy = { new SortKey("id", false) } };
        query.Where(await access.VisibleAsync(call.Caller, Collection.Workers, call.Aborted));
        if (call.NullableStringList("tags") is { Count: > 0 } tags)
            query.Where(new TagMatch("tags", TagQuery.Parse(tags)));
        if (call.NullableStringList("system_tags") is { Count: > 0 } systemTags)
            query.Where(new TagMatch("system_tags", TagQuery.Parse(systemTags)));
        var result = new JsonArray();
        foreach (var stored in await docs.FindAsync(Collection.Workers, query, call.Aborted))
        {
            var worker = stored.As<WorkerDocument>();
            var idle = now - DateTimeOffset.Parse(worker.LastActivityTime!, System.Globalization.CultureInfo.InvariantCulture);
            if (idle > TimeSpan.FromSeconds(worker.Timeout ?? DefaultTimeoutSeconds))
            {
                await docs.DeleteAsync(Collection.Workers, stored.Id, call.Aborted);
                continue;
            }
            if ((lastSeen is { } seconds && idle > TimeSpan.FromSeconds(seconds)) || (pattern is not null && !pattern.IsMatch(worker.Id)))
                continue;
            result.Add(await PresentAsync(stored.Body, worker, now, call.Aborted));
        }
        return new JsonObject { ["workers"] = result };
    }

    private async ValueTask<JsonNode?> GetStats(RpcCall call)
    {
        var (from, to, interval) = TimeRange(call);
        var items = (call.Array("items") ?? throw ApiException.MissingField("items")).Select(i =>
        {
            var category = RpcCall.AsString(i?["category"], "category") ?? "avg";
            if (category is not ("avg" or "min" or "max"))
                throw ApiException.Validation("category must be avg, min or max");
            return new WorkerStatistics.Item(RpcCall.AsString(i?["key"], "key") ?? throw ApiException.MissingField("key"), category);
        }).ToList();
        var reports = await ReportsAsync(call.Caller.Company, from, to, call.StringList("worker_ids"), call.Aborted);
        var workers = call.StringList("worker_ids") is { Count: > 0 } ids ? ids : reports.Select(r => r.Worker).Distinct().Order(StringComparer.Ordinal).ToList();
        return new JsonObject { ["workers"] = WorkerStatistics.Stats(reports, workers, from, interval, items, call.Bool("split_by_variant")) };
    }

    private async ValueTask<JsonNode?> GetActivityReport(RpcCall call)
    {
        var (from, to, interval) = TimeRange(call);
        return WorkerStatistics.Activity(await ReportsAsync(call.Caller.Company, from, to, null, call.Aborted), from, interval);
    }

    private static (long From, long To, long Interval) TimeRange(RpcCall call)
    {
        var from = (long)(call.Body["from_date"] is JsonValue f && f.TryGetValue(out double fd) ? fd : throw ApiException.MissingField("from_date"));
        var to = (long)(call.Body["to_date"] is JsonValue t && t.TryGetValue(out double td) ? td : throw ApiException.MissingField("to_date"));
        var interval = call.Long("interval") ?? throw ApiException.MissingField("interval");
        if (interval < 1 || to < from)
            throw ApiException.Validation("interval must be at least 1 and to_date not before from_date");
        if ((to - from) / interval > 10_000)
            throw ApiException.Validation("too many intervals (at most 10,000)");
        return (from, to, interval);
    }

    /// <summary>The caller's tenant's worker reports in a time range.</summary>
    private async Task<List<WorkerStatistics.Report>> ReportsAsync(string company, long from, long to, List<string>? workers, CancellationToken ct)
    {
        var query = new DocQuery().Where(new FieldRange("ts", from, to)).Where(Tenants.FilterWithLegacy(company));
        if (workers is { Count: > 0 })
            query.Where(new FieldIn("worker", workers));
        return (await docs.FindAsync(Collection.WorkerStats, query, ct))
            .Select(d => new WorkerStatistics.Report(Json.GetString(d.Body, "worker")!, Json.GetLong(d.Body["ts"]) ?? 0, Json.GetBool(d.Body, "active"), d.Body["stats"] as JsonObject))
            .ToList();
    }

    /// <summary>The worker as the UI and agents read it: its task and queues spelled out.</summary>
    private async Task<JsonObject> PresentAsync(JsonObject stored, WorkerDocument worker, DateTimeOffset now, CancellationToken ct)
    {
        var shown = (JsonObject)stored.DeepClone();
        shown.Remove(WorkerFields.MachineStats);
        if (worker.Task?.Id is { } taskId && await docs.GetAsync(Collection.Tasks, taskId, ct) is { } task)
        {
            var lifecycle = task.As<TaskDocument>();
            var started = lifecycle.Started;
            shown[WorkerFields.Task] = new JsonObject
            {
                ["id"] = taskId,
                ["name"] = task.Body["name"]?.DeepClone(),
                ["running_time"] = started is null ? 0 : (long)(now - DateTimeOffset.Parse(started, System.Globalization.CultureInfo.InvariantCulture)).TotalMilliseconds,
                ["last_iteration"] = task.Body["last_iteration"]?.DeepClone(),
            };
            if (lifecycle.Project is { } projectId && await docs.GetAsync<ProjectDocument>(projectId, ct) is { } project)
                shown["project"] = new JsonObject { ["id"] = projectId, [DocumentFields.Name] = project.Name };
        }
        var queues = new JsonArray();
        foreach (var queueId in worker.Queues ?? [])
        {
            if (await docs.GetAsync<QueueDocument>(queueId, ct) is not { } queue)
                continue;
            var entries = await queueEntries.ListAsync(queueId, ct);
            var next = entries.FirstOrDefault();
            queues.Add(new JsonObject
            {
                ["id"] = queueId,
                [DocumentFields.Name] = queue.Name,
                [QueueFields.DisplayName] = queue.DisplayName,
                ["num_tasks"] = entries.Count,
                ["next_task"] = next is null ? null : new JsonObject { ["id"] = next.Task },
            });
        }
        shown[WorkerFields.Queues] = queues;
        if (worker.Queue is { } current && queues.OfType<JsonObject>().FirstOrDefault(q => q[DocumentFields.Id]?.GetValue<string>() == current) is { } currentQueue)
            shown[WorkerFields.Queue] = currentQueue.DeepClone();
        else
            shown.Remove(WorkerFields.Queue);
        return shown;
    }

    /// <summary>Creates or refreshes the worker's document (every call counts as activity); returns it as stored.</summary>
    /// <param name="namedNulls">Fields the change writes as an explicit null when it leaves them null.</param>
    private async Task<JsonObject> UpsertAsync(RpcCall call, Func<WorkerDocument, WorkerDocument> change, string[]? namedNulls = null)
    {
        var id = call.RequireString("worker");
        if (!Tenants.IsWorkerId(id))
            throw ApiException.Validation("worker: an id without control characters is needed");
        var key = Tenants.WorkerKey(call.Caller.Company, id);
        var now = Json.Timestamp(clock.GetUtcNow());
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var current = await docs.GetAsync(Collection.Workers, key, call.Aborted);
            var before = current?.As<WorkerDocument>() ?? new WorkerDocument
            {
                Id = id,
                User = new JsonObject { ["id"] = call.Caller.User, ["name"] = call.Caller.UserName },
                Company = new JsonObject { ["id"] = call.Caller.Company, ["name"] = call.Caller.Company },
                RegisterTime = now,
                Timeout = DefaultTimeoutSeconds,
                Tags = [],
                SystemTags = [],
                Queues = [],
            };
            var after = change(before with
            {
                Ip = call.RemoteIp,
                LastActivityTime = now,
                LastReportTime = now,
                Queues = call.StringList(WorkerFields.Queues) ?? before.Queues,
                Tags = call.StringList(DocumentFields.Tags) is { } tags ? Json.Sorted(tags) : before.Tags,
                SystemTags = call.StringList(DocumentFields.SystemTags) is { } systemTags ? Json.Sorted(systemTags) : before.SystemTags,
            });
            // The address is written on every call, as null when the call has none.
            string[] nulls = [WorkerFields.Ip, .. namedNulls ?? []];
            JsonObject body;
            if (current is null)
                body = DocumentJson.ToJson(after, nulls);
            else
            {
                body = (JsonObject)current.Body.DeepClone();
                DocumentJson.Apply(body, before, after, nulls);
            }
            if (after.Task is null)
                body.Remove(WorkerFields.Task);
            if (current is null ? await docs.InsertAsync(Collection.Workers, key, body, call.Aborted) : await docs.ReplaceAsync(Collection.Workers, current, body, call.Aborted))
                return body;
        }
        throw new ApiException(409, 0, $"The worker kept changing while it reported; try again (id={id})");
    }
}
