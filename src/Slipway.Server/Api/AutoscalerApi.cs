using System.Text.Json.Nodes;
using Slipway.Server.Domain;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// autoscaler.*: where an autoscaler keeps its state (one document per autoscaler and tenant, swapped whole) and its
/// append-only decision log, and how it releases the tasks of instances it saw die. Admins and the system identity only
/// (the route table keeps everyone else out).
/// </summary>
public sealed class AutoscalerApi(IDocumentStore docs, LostTasks lostTasks, TimeProvider clock)
{
    public const int MaxStateBytes = 8 * 1024 * 1024;
    public const int MaxEventsPerCall = 1000;

    public void Map(RpcRouter router)
    {
        router.Add("autoscaler.get_state", GetState, "scaler");
        router.Add("autoscaler.set_state", SetState, "scaler state");
        router.Add("autoscaler.get_all", GetAll, "");
        router.Add("autoscaler.add_events", AddEvents, "scaler events");
        router.Add("autoscaler.get_events", GetEvents, "scaler page_size");
        router.Add("autoscaler.release_task", ReleaseTask, "task worker requeue reason");
        router.Add("autoscaler.hold_task", HoldTask, "task message");
    }

    private static string Scaler(RpcCall call)
    {
        var scaler = call.RequireString("scaler");
        if (scaler.Length is 0 or > 100 || scaler.Contains(':', StringComparison.Ordinal))
            throw ApiException.Validation("scaler must be 1 to 100 characters without ':'");
        return scaler;
    }

    private static string StateId(RpcCall call, string scaler) => $"{call.Caller.Company}/{scaler}";

    private async ValueTask<JsonNode?> GetState(RpcCall call)
    {
        var doc = await docs.GetAsync(Collection.Autoscalers, StateId(call, Scaler(call)), call.Aborted);
        return new JsonObject { ["state"] = doc?.Body["state"]?.DeepClone(), ["updated"] = doc?.Body["updated"]?.DeepClone() };
    }

    private async ValueTask<JsonNode?> SetState(RpcCall call)
    {
        var scaler = Scaler(call);
        var state = call.Object("state") ?? throw ApiException.MissingField("state");
        if (System.Text.Encoding.UTF8.GetByteCount(state.ToJsonString()) > MaxStateBytes)
            throw ApiException.Validation($"state must be at most {MaxStateBytes} bytes");
        var body = new JsonObject
        {
            ["scaler"] = scaler, ["company"] = call.Caller.Company, ["state"] = state.DeepClone(), ["updated"] = Json.Timestamp(clock.GetUtcNow()),
        };
        var id = StateId(call, scaler);
        // One autoscaler writes its own document; a lost race is simply retried with the newer version.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var current = await docs.GetAsync(Collection.Autoscalers, id, call.Aborted);
            if (current is null ? await docs.InsertAsync(Collection.Autoscalers, id, body, call.Aborted)
                    : await docs.ReplaceAsync(Collection.Autoscalers, current, body, call.Aborted))
                return new JsonObject { ["updated"] = 1 };
        }
        throw new ApiException(409, 0, "the autoscaler state changed under this write five times; try again");
    }

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var found = await docs.FindAsync(Collection.Autoscalers, new DocQuery().Where(Tenants.Filter(call.Caller.Company)), call.Aborted);
        return new JsonObject
        {
            ["autoscalers"] = new JsonArray(found.Select(d => (JsonNode)new JsonObject
            {
                ["scaler"] = d.Body["scaler"]?.DeepClone(), ["state"] = d.Body["state"]?.DeepClone(), ["updated"] = d.Body["updated"]?.DeepClone(),
            }).ToArray()),
        };
    }

    private async ValueTask<JsonNode?> AddEvents(RpcCall call)
    {
        var scaler = Scaler(call);
        var events = call.Array("events") ?? throw ApiException.MissingField("events");
        if (events.Count > MaxEventsPerCall)
            throw ApiException.Validation($"at most {MaxEventsPerCall} events per call");
        var now = clock.GetUtcNow();
        var added = 0;
        foreach (var node in events)
        {
            if (node is not JsonObject e || RpcCall.AsString(e["action"], "action") is not { Length: > 0 } action
                || RpcCall.AsString(e["reason"], "reason") is not { Length: > 0 } reason)
                throw ApiException.Validation("each event needs an action and a reason");
            var body = (JsonObject)e.DeepClone();
            body["action"] = action;
            body["reason"] = reason;
            body["scaler"] = scaler;
            body["company"] = call.Caller.Company;
            body["timestamp"] = Json.Timestamp(now);
            // Ids start with the time (and a per-call counter), so that id order is the order of decisions.
            var id = $"{now.UtcTicks:D19}-{added:D4}-{Guid.NewGuid():N}"[..40];
            await docs.InsertAsync(Collection.AutoscalerEvents, id, body, call.Aborted);
            added++;
        }
        return new JsonObject { ["added"] = added };
    }

    private async ValueTask<JsonNode?> GetEvents(RpcCall call)
    {
        var scaler = Scaler(call);
        var size = Math.Clamp(call.Int("page_size") ?? 100, 1, 1000);
        var query = new DocQuery().Where(Tenants.Filter(call.Caller.Company)).Where(new FieldIn("scaler", [scaler]));
        query.OrderBy.Add(new SortKey("id", Descending: true));
        query.Take = size;
        var found = await docs.FindAsync(Collection.AutoscalerEvents, query, call.Aborted);
        return new JsonObject { ["events"] = new JsonArray(found.Select(d => (JsonNode)d.Body.DeepClone()).ToArray()) };
    }

    /// <summary>The named task, checked first: a task of another tenant does not exist for the caller.</summary>
    private async Task<string> RequireTaskAsync(RpcCall call)
    {
        var id = call.RequireString("task");
        if (await docs.GetAsync(Collection.Tasks, id, call.Aborted) is not { } task || Tenants.Of(task.Body) != call.Caller.Company)
            throw ApiException.InvalidTaskId(id);
        return id;
    }

    private async ValueTask<JsonNode?> ReleaseTask(RpcCall call)
    {
        var task = await RequireTaskAsync(call);
        var reason = call.RequireString("reason");
        if (reason.Length > 2000)
            throw ApiException.Validation("reason must be at most 2000 characters");
        var status = await lostTasks.ReleaseAsync(call.Caller.Company, task, call.RequireString("worker"), call.Bool("requeue"), reason, call.Aborted);
        return new JsonObject { ["released"] = status is not null, ["status"] = status };
    }

    private async ValueTask<JsonNode?> HoldTask(RpcCall call)
    {
        var task = await RequireTaskAsync(call);
        var message = call.RequireString("message");
        if (message.Length > 2000)
            throw ApiException.Validation("message must be at most 2000 characters");
        return new JsonObject { ["updated"] = await lostTasks.HoldAsync(call.Caller.Company, task, message, call.Aborted) };
    }
}
