using System.Text.Json.Nodes;
using Slipway.Server.Api;
using Slipway.Server.Domain;
using Slipway.Server.Storage;

namespace Slipway.Server.Auth;

/// <summary>
/// Which tasks a customer may touch, on top of the endpoints <see cref="RouteAccess"/> gives it: its own tasks (the clones it
/// made), and published tasks (the templates) only to read and clone. Lists show a customer its own tasks only.
/// </summary>
public sealed class CustomerScope(IDocumentStore docs)
{
    private static readonly HashSet<string> TemplateUses = ["tasks.clone", "tasks.get_by_id", "tasks.get_hyper_params"];

    public async ValueTask ApplyAsync(RpcCall call)
    {
        if (call.Identity is not { Role: Roles.Customer } caller)
            return;
        if (call.Endpoint == "tasks.get_all")
        {
            call.Body["user"] = new JsonArray(caller.User);
            return;
        }
        var ids = call.StringList("task") ?? call.StringList("tasks") ?? [];
        foreach (var id in ids)
        {
            var task = await docs.GetAsync(Collection.Tasks, id, call.Aborted);
            var own = task is not null && Json.GetString(task.Body, "user") == caller.User && Json.GetString(task.Body, "company") == caller.Company;
            var template = task is not null && Json.GetString(task.Body, "status") == TaskStatuses.Published && TemplateUses.Contains(call.Endpoint)
                           && Json.GetString(task.Body, "company") == caller.Company;
            if (!own && !template)
                throw RouteAccess.Forbidden($"a customer may only use its own tasks and published templates (task {id})");
        }
    }
}
