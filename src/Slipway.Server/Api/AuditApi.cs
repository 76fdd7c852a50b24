using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// audit.get_all: the security record of the caller's tenant, newest first, for admins (the route table keeps everyone else out).
/// Failed sign-ins with an unknown key belong to no tenant and are shown to every admin.
/// </summary>
public sealed class AuditApi(IDocumentStore docs)
{
    public const int MaxPageSize = 500;

    public void Map(RpcRouter router) => router.Add("audit.get_all", GetAll, "action user page page_size");

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var query = new DocQuery().Where(new FieldIn("company", [call.Caller.Company, ""]));
        if (call.StringList("action") is { Count: > 0 } actions)
            query.Where(new FieldIn("action", actions));
        if (call.StringList("user") is { Count: > 0 } users)
            query.Where(new FieldIn("user", users));
        var size = Math.Clamp(call.Int("page_size") ?? 100, 1, MaxPageSize);
        var page = call.Int("page") ?? 0;
        if (page < 0 || page > 100_000)
            throw ApiException.Validation("page must be between 0 and 100000");
        query.OrderBy.Add(new SortKey("id", Descending: true));
        (query.Skip, query.Take) = (page * size, size);
        var found = await docs.FindAsync(Collection.Audit, query, call.Aborted);
        return new JsonObject { ["events"] = new JsonArray(found.Select(d => (JsonNode)d.Body.DeepClone()).ToArray()) };
    }
}
