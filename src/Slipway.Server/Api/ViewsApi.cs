using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// views.*: named views of an experiments table (its sort and added columns, as the page's address carries them), saved
/// on the server so the whole team finds them. A view belongs to a project's table, or to "All experiments" when no
/// project is named; the same name saved again replaces it. Reading needs read access to the project, saving and
/// deleting write access (the entity check reads the <c>project</c> field; delete checks the view's own project).
/// </summary>
public sealed class ViewsApi(IDocumentStore docs, AccessControl access, TimeProvider clock)
{
    public const int MaxNameLength = 100;
    public const int MaxViewLength = 4096;
    public const int MaxViewsPerTable = 200;
    private const string AllExperiments = "*";

    public void Map(RpcRouter router)
    {
        router.Add("views.get_all", GetAll, "project");
        router.Add("views.save", Save, "project name view");
        router.Add("views.delete", Delete, "id");
    }

    private static string Table(RpcCall call) => call.String("project") is { Length: > 0 } project ? project : AllExperiments;

    private async Task<List<StoredDoc>> ViewsOfAsync(RpcCall call, string table) =>
        await docs.FindAsync(Collection.Views, new DocQuery { OrderBy = { new SortKey("name", false) } }
            .Where(Tenants.Filter(call.Caller.Company)).Where(new FieldIn("table", [table])), call.Aborted);

    private async ValueTask<JsonNode?> GetAll(RpcCall call)
    {
        var views = await ViewsOfAsync(call, Table(call));
        return new JsonObject { ["views"] = new JsonArray(views.Select(v => (JsonNode)Present(v.Body)).ToArray()) };
    }

    private async ValueTask<JsonNode?> Save(RpcCall call)
    {
        var table = Table(call);
        var name = call.RequireString("name").Trim();
        if (name.Length is 0 or > MaxNameLength || name.Any(char.IsControl))
            throw ApiException.Validation($"name must be 1 to {MaxNameLength} characters without control characters");
        var view = call.RequireString("view");
        if (view.Length > MaxViewLength || view.Any(char.IsControl))
            throw ApiException.Validation($"view must be at most {MaxViewLength} characters without control characters (the table's address query, e.g. sort=-started&cols=...)");
        if (table != AllExperiments && await docs.GetAsync(Collection.Projects, table, call.Aborted) is null)
            throw new ApiException(400, 401, $"Invalid project id (id={table})");
        var id = ViewId(call.Caller.Company, table, name);
        var body = new JsonObject
        {
            ["id"] = id, ["company"] = call.Caller.Company, ["table"] = table, ["name"] = name, ["view"] = view,
            ["user"] = call.Caller.User, ["user_name"] = call.Caller.UserName, ["updated"] = Json.Timestamp(clock.GetUtcNow()),
        };
        var current = await docs.GetAsync(Collection.Views, id, call.Aborted);
        if (current is null)
        {
            if ((await ViewsOfAsync(call, table)).Count >= MaxViewsPerTable)
                throw ApiException.Validation($"a table keeps at most {MaxViewsPerTable} views; delete some first");
            if (!await docs.InsertAsync(Collection.Views, id, body, call.Aborted))
                current = await docs.GetAsync(Collection.Views, id, call.Aborted); // saved at the same moment by someone else: replace theirs
        }
        if (current is not null && !await docs.ReplaceAsync(Collection.Views, current, body, call.Aborted))
            throw new ApiException(409, 0, $"the view '{name}' changed under this save; try again");
        return Present(body);
    }

    private async ValueTask<JsonNode?> Delete(RpcCall call)
    {
        var id = call.RequireString("id");
        var found = await docs.GetAsync(Collection.Views, id, call.Aborted);
        if (found is null || Tenants.Of(found.Body) != call.Caller.Company)
            throw new ApiException(400, 0, $"Invalid view id (id={id})");
        var table = Json.GetString(found.Body, "table");
        var mine = Json.GetString(found.Body, "user") == call.Caller.User;
        if (access.Enabled && !mine && !call.Caller.IsAdmin && table != AllExperiments && await access.ProjectLevelAsync(call.Caller, table, call.Aborted) < Level.Write)
            throw RouteAccess.Forbidden($"write access to project {table} is needed to delete its views");
        await docs.DeleteAsync(Collection.Views, id, call.Aborted);
        return new JsonObject { ["deleted"] = 1 };
    }

    /// <summary>One view per tenant, table and name: the id is derived from them, so saving a name again replaces it.</summary>
    private static string ViewId(string company, string table, string name) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{company}\0{table}\0{name}")))[..32];

    private static JsonObject Present(JsonObject view) => new()
    {
        ["id"] = view["id"]?.DeepClone(),
        ["project"] = Json.GetString(view, "table") is { } table && table != AllExperiments ? table : null,
        ["name"] = view["name"]?.DeepClone(),
        ["view"] = view["view"]?.DeepClone(),
        ["user"] = view["user_name"]?.DeepClone(),
        ["updated"] = view["updated"]?.DeepClone(),
    };
}
