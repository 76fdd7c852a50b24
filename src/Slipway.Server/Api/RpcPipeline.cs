using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// How a call runs once its caller is known, for the HTTP endpoint and the web UI alike: the route, the caller's right to
/// call it, the accepted fields, which entities it may touch, the handler.
/// </summary>
public sealed class RpcPipeline(RpcRouter router, AccessControl access, EntityGuard guard, AuditLog audit)
{
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
        try
        {
            await guard.CheckAsync(call);
            var result = await route.Handler(call);
            if (Audited.Contains(route.Name))
                await audit.RecordAsync(route.Name, call.Identity, call.RemoteIp, Subjects(call.Body));
            return result;
        }
        catch (InvalidQueryException e)
        {
            throw ApiException.Validation(e.Message);
        }
        catch (RegexMatchTimeoutException)
        {
            throw ApiException.Validation(UserRegex.TimeoutReason);
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
}
