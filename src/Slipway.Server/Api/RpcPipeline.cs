using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// How a call runs once its caller is known, for the HTTP endpoint and the web UI alike: the route, the caller's right to
/// call it, the accepted fields and text, which entities it may touch, the handler, and its failures mapped to the API's
/// codes, so a page shows the same error a client would get and neither ever sees an exception that is not an
/// <see cref="ApiException"/> (a cancelled call excepted).
/// </summary>
public sealed partial class RpcPipeline(RpcRouter router, AccessControl access, EntityGuard guard, AuditLog audit, ILogger<RpcPipeline> logger)
{
    public const string GeneralError = "General error (see the server log)";

    /// <summary>Deletions are recorded in the audit log (the auth endpoints record their own actions).</summary>
    private static readonly HashSet<string> Audited =
        ["tasks.delete", "tasks.delete_many", "models.delete", "projects.delete", "queues.delete", "workers.unregister", "events.delete_for_task"];

    private static readonly string[] SubjectFields = ["task", "tasks", "model", "project", "queue", "worker", "ids"];

    public RpcRouter.Route Find(string endpoint) => router.Find(endpoint) ?? throw ApiException.EndpointNotFound(endpoint);

    public async ValueTask<JsonNode?> InvokeAsync(RpcRouter.Route route, RpcCall call)
    {
        if (!route.Anonymous && access.Enabled)
            RouteAccess.Check(call.Caller, route.Name);
        if (route.Fields is { } accepted && call.Body.Select(p => p.Key).FirstOrDefault(k => !accepted.Contains(k)) is { } unknown)
            throw ApiException.Validation($"unknown field '{unknown}' for {route.Name}");
        // A batch's events are checked one by one as they are parsed, so that one bad event is that event's error.
        if (route.Name != "events.add_batch")
            RequestBody.CheckText(call.Body);
        try
        {
            await guard.CheckAsync(call);
            var result = await route.Handler(call);
            if (Audited.Contains(route.Name))
                await audit.RecordAsync(route.Name, call.Identity, call.RemoteIp, Subjects(call.Body));
            return result;
        }
        catch (ApiException)
        {
            throw;
        }
        catch (OperationCanceledException) when (call.Aborted.IsCancellationRequested)
        {
            throw;
        }
        catch (InvalidQueryException e)
        {
            throw ApiException.Validation(e.Message);
        }
        catch (RegexMatchTimeoutException)
        {
            throw ApiException.Validation(UserRegex.TimeoutReason);
        }
        catch (Exception e) when (DiskFull.Is(e))
        {
            Log.DiskFull(logger, e, route.Name);
            throw new ApiException(507, 0, DiskFull.Reason);
        }
        catch (Exception e)
        {
            Log.Unhandled(logger, e, route.Name);
            throw new ApiException(500, 0, GeneralError);
        }
    }

    private static JsonObject Subjects(JsonObject body)
    {
        var subjects = new JsonObject();
        foreach (var field in SubjectFields)
        {
            if (body[field] is { } value)
                subjects[field] = value.DeepClone();
        }
        return subjects;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Endpoint}")]
        public static partial void Unhandled(ILogger logger, Exception e, string endpoint);

        [LoggerMessage(Level = LogLevel.Error, Message = "{Endpoint} failed: no space left for the store")]
        public static partial void DiskFull(ILogger logger, Exception e, string endpoint);
    }
}
