using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Domain.Workers;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// autoscaler.*: where an autoscaler keeps its state (one document per autoscaler and tenant, swapped whole) and its
/// append-only decision log, and how it releases the tasks of instances it saw die. Admins and the system identity only
/// (the route table keeps everyone else out), except <c>autoscaler.enroll</c>, which a booting instance calls with nothing
/// but its one-time token.
/// </summary>
public sealed class AutoscalerApi(IDocumentStore docs, LostTasks lostTasks, WorkerDrain drain, SecurityEpoch epoch, AuditLog audit, TimeProvider clock)
{
    public const int MaxStateBytes = 8 * 1024 * 1024;
    public const int MaxEventsPerCall = 1000;

    /// <summary>An enrollment token lives at most this long (a spin-up timeout longer than a day is a configuration mistake).</summary>
    public const int MaxEnrollmentSeconds = 24 * 3600;

    public void Map(RpcRouter router)
    {
        router.Add("autoscaler.get_state", GetState, "scaler");
        router.Add("autoscaler.set_state", SetState, "scaler state");
        router.Add("autoscaler.get_all", GetAll, "");
        router.Add("autoscaler.add_events", AddEvents, "scaler events");
        router.Add("autoscaler.get_events", GetEvents, "scaler page_size");
        router.Add("autoscaler.release_task", ReleaseTask, "task worker requeue reason");
        router.Add("autoscaler.hold_task", HoldTask, "task message");
        router.Add("autoscaler.create_enrollment", CreateEnrollment, "scaler launch_id worker_prefix expires_in_sec");
        router.Add("autoscaler.enroll", Enroll, "token instance_id", anonymous: true);
        router.Add("autoscaler.revoke_launch", RevokeLaunch, "scaler launch_ids");
        router.Add("autoscaler.drain_workers", DrainWorkers, "workers reason drain");
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

    /// <summary>
    /// Marks workers draining (their agents stop taking work; <c>queues.get_next_task</c> hands them nothing) before their
    /// instance is stopped, or with <c>drain: false</c> takes the mark off again. Workers that are not registered are named
    /// in <c>missing</c>, not refused: an agent may just have unregistered.
    /// </summary>
    private async ValueTask<JsonNode?> DrainWorkers(RpcCall call)
    {
        var workers = call.StringList("workers") ?? throw ApiException.MissingField("workers");
        if (workers.Count > MaxEventsPerCall)
            throw ApiException.Validation($"at most {MaxEventsPerCall} workers per call");
        if (workers.Any(w => !Tenants.IsWorkerId(w)))
            throw ApiException.Validation("workers: each id must be non-empty and without control characters");
        var draining = call.Bool("drain", fallback: true);
        var reason = call.String("reason");
        if (draining && reason is not { Length: > 0 })
            throw ApiException.MissingField("reason");
        if (reason is { Length: > WorkerDrain.MaxReasonLength })
            throw ApiException.Validation($"reason must be at most {WorkerDrain.MaxReasonLength} characters");
        var missing = await drain.SetAsync(call.Caller.Company, workers, draining, draining ? reason : null, call.Aborted);
        return new JsonObject
        {
            [draining ? "drained" : "undrained"] = workers.Distinct(StringComparer.Ordinal).Count() - missing.Count,
            ["missing"] = new JsonArray(missing.Select(m => (JsonNode?)m).ToArray()),
        };
    }

    /// <summary>
    /// A one-time token for one launch, so that user-data carries no long-lived key: the instance exchanges it once
    /// (<c>autoscaler.enroll</c>) for a key pair of its own, before the spin-up timeout. Only the token's hash is kept.
    /// </summary>
    private async ValueTask<JsonNode?> CreateEnrollment(RpcCall call)
    {
        var scaler = Scaler(call);
        var launch = call.RequireString("launch_id");
        if (launch.Length is 0 or > 100 || launch.Contains(':', StringComparison.Ordinal))
            throw ApiException.Validation("launch_id must be 1 to 100 characters without ':'");
        var prefix = call.RequireString("worker_prefix");
        if (prefix.Length is 0 or > 200 || !Tenants.IsWorkerId(prefix))
            throw ApiException.Validation("worker_prefix must be 1 to 200 characters without control characters");
        var seconds = call.Long("expires_in_sec") ?? throw ApiException.MissingField("expires_in_sec");
        if (seconds is < 1 or > MaxEnrollmentSeconds)
            throw ApiException.Validation($"expires_in_sec must be between 1 and {MaxEnrollmentSeconds}");
        var id = SecretHash.NewKey(20);
        var secret = SecretHash.NewKey(48);
        var now = clock.GetUtcNow();
        var expires = now.AddSeconds(seconds);
        await docs.InsertAsync(Collection.AutoscalerEnrollments, id, new JsonObject
        {
            ["id"] = id, ["scaler"] = scaler, ["company"] = call.Caller.Company, ["launch_id"] = launch, ["worker_prefix"] = prefix,
            ["secret_hash"] = SecretHash.Create(secret), ["created"] = Json.Timestamp(now), ["created_by"] = call.Caller.User,
            ["expires"] = Json.Timestamp(expires), ["used"] = false,
        }, call.Aborted);
        return new JsonObject { ["token"] = $"{id}.{secret}", ["expires"] = Json.Timestamp(expires) };
    }

    /// <summary>
    /// Exchanges a token once for a key pair of a user made for this one launch (role agent: it runs tasks, it manages nothing),
    /// which <c>autoscaler.revoke_launch</c> deletes with its keys when the instance ends. A used, expired or unknown token is a 401.
    /// </summary>
    private async ValueTask<JsonNode?> Enroll(RpcCall call)
    {
        var token = call.RequireString("token");
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        var enrollment = dot is > 0 and <= 64 ? await docs.GetAsync(Collection.AutoscalerEnrollments, token[..dot], call.Aborted) : null;
        if (enrollment is null || !SecretHash.Matches(Json.GetString(enrollment.Body, "secret_hash") ?? "", token[(dot + 1)..]))
            throw new ApiException(401, 0, "Unauthorized (unknown enrollment token)");
        if (Json.GetBool(enrollment.Body, "used"))
            throw new ApiException(401, 0, "Unauthorized (this enrollment token was already used; each instance enrolls once)");
        var now = clock.GetUtcNow();
        if (!DateTimeOffset.TryParse(Json.GetString(enrollment.Body, "expires"), System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var expires) || now >= expires)
            throw new ApiException(401, 0, "Unauthorized (this enrollment token has expired: the instance did not enroll within the spin-up timeout)");
        var instanceId = call.String("instance_id");
        if (instanceId is { Length: > 100 })
            throw ApiException.Validation("instance_id must be at most 100 characters");
        var body = (JsonObject)enrollment.Body.DeepClone();
        body["used"] = true;
        body["used_at"] = Json.Timestamp(now);
        body["instance_id"] = instanceId;
        body["remote_ip"] = call.RemoteIp;
        // The swap is the one use: of two concurrent exchanges only one wins.
        if (!await docs.ReplaceAsync(Collection.AutoscalerEnrollments, enrollment, body, CancellationToken.None))
            throw new ApiException(401, 0, "Unauthorized (this enrollment token was already used; each instance enrolls once)");
        var company = Tenants.Of(enrollment.Body);
        var scaler = Json.GetString(enrollment.Body, "scaler") ?? "";
        var launch = Json.GetString(enrollment.Body, "launch_id") ?? "";
        var user = await AuthApi.CreateUserAsync(docs, $"{scaler}:{launch} (autoscaled agent)", Roles.Agent, company, clock, CancellationToken.None);
        var (accessKey, secretKey) = await AuthApi.NewCredentialsAsync(docs, user, $"autoscaler {scaler} launch {launch}", clock, CancellationToken.None);
        body["user"] = user;
        body["access_key"] = accessKey;
        var used = await docs.GetAsync(Collection.AutoscalerEnrollments, enrollment.Id, CancellationToken.None);
        if (used is not null)
            await docs.ReplaceAsync(Collection.AutoscalerEnrollments, used, body, CancellationToken.None);
        await audit.RecordAsync("autoscaler_enrolled", null, call.RemoteIp,
            new JsonObject { ["scaler"] = scaler, ["launch_id"] = launch, ["instance_id"] = instanceId, ["user"] = user, ["access_key"] = accessKey }, company);
        return new JsonObject
        {
            ["credentials"] = new JsonObject { ["access_key"] = accessKey, ["secret_key"] = secretKey },
            ["worker_prefix"] = Json.GetString(enrollment.Body, "worker_prefix"), ["scaler"] = scaler, ["launch_id"] = launch,
        };
    }

    /// <summary>The launches' instances ended: their tokens stop working and the users they enrolled as are deleted with every key.</summary>
    private async ValueTask<JsonNode?> RevokeLaunch(RpcCall call)
    {
        var scaler = Scaler(call);
        var launches = call.StringList("launch_ids") ?? throw ApiException.MissingField("launch_ids");
        if (launches.Count > MaxEventsPerCall)
            throw ApiException.Validation($"at most {MaxEventsPerCall} launch ids per call");
        if (launches.Count == 0)
            return new JsonObject { ["revoked"] = 0 };
        var found = await docs.FindAsync(Collection.AutoscalerEnrollments, new DocQuery()
            .Where(Tenants.Filter(call.Caller.Company)).Where(new FieldIn("scaler", [scaler])).Where(new FieldIn("launch_id", launches.ToList())), call.Aborted);
        var users = 0;
        foreach (var enrollment in found)
        {
            if (Json.GetString(enrollment.Body, "user") is { Length: > 0 } user)
            {
                foreach (var key in await docs.FindAsync(Collection.Credentials, new DocQuery().Where(new FieldIn("user", [user])), CancellationToken.None))
                    await docs.DeleteAsync(Collection.Credentials, key.Id, CancellationToken.None);
                await docs.DeleteAsync(Collection.Users, user, CancellationToken.None);
                users++;
            }
            await docs.DeleteAsync(Collection.AutoscalerEnrollments, enrollment.Id, CancellationToken.None);
        }
        if (users > 0)
            await epoch.BumpAsync();
        if (found.Count > 0)
        {
            await audit.RecordAsync("autoscaler_launch_revoked", call.Caller, call.RemoteIp, new JsonObject
            {
                ["scaler"] = scaler, ["launch_ids"] = new JsonArray(found.Select(e => (JsonNode?)Json.GetString(e.Body, "launch_id")).ToArray()), ["users"] = users,
            });
        }
        return new JsonObject { ["revoked"] = found.Count };
    }
}
