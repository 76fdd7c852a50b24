using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Storage;

namespace Slipway.Server.Auth;

/// <summary>
/// The file server's rules, the API's applied to paths. A file belongs to the tenant of whoever uploaded it (recorded at
/// upload; files from before that are the first tenant's) and, when its path names a task or a model the way the SDK and
/// Slipway.Client lay files out (<c>{project}/{task name}.{task id}/…</c>, <c>models/{model id}/…</c>), to that entity:
/// reading it takes read access to the entity, writing or deleting it write access. A path that names no entity is
/// readable in its tenant and changed only by its uploader or an admin. What the caller may not read answers 404, as a
/// missing file does.
/// </summary>
public sealed partial class FilePermissions(IDocumentStore docs, AccessControl access)
{
    /// <param name="exists">Whether the file is there: a new file is the uploader's tenant's, an old one without a record the first tenant's.</param>
    public async Task RequireAsync(Identity caller, string path, bool write, bool exists, CancellationToken ct)
    {
        var owner = await docs.GetAsync(Collection.FileOwners, path, ct);
        var tenant = owner is not null ? Tenants.Of(owner.Body) : exists ? Tenants.Root : caller.Company;
        if (tenant != caller.Company)
            throw NotFound(path);
        var need = write ? Level.Write : Level.Read;
        if (EntityOf(path) is var (collection, id) && await docs.GetAsync(collection, id, ct) is { } entity)
        {
            var level = await access.LevelAsync(caller, collection, entity.Body, ct);
            if (level == Level.None)
                throw NotFound(path);
            if (level < need)
                throw RouteAccess.Forbidden($"{AccessControl.Name(need)} access to {path} is needed; you have {AccessControl.Name(level)}");
            return;
        }
        if (caller.Role == Roles.Customer && Json.GetString(owner?.Body ?? [], "user") != caller.User)
            throw NotFound(path);
        if (write && owner is not null && Json.GetString(owner.Body, "user") != caller.User && !caller.IsAdmin)
            throw RouteAccess.Forbidden($"{path} was uploaded by someone else");
        if (write && caller.Role == Roles.Viewer)
            throw RouteAccess.Forbidden("a viewer does not write files");
    }

    /// <summary>Records who uploaded a file (after the upload is stored).</summary>
    public async Task RecordUploadAsync(Identity caller, string path)
    {
        var body = new JsonObject { ["id"] = path, ["user"] = caller.User, ["company"] = caller.Company };
        if (!await docs.InsertAsync(Collection.FileOwners, path, body) && await docs.GetAsync(Collection.FileOwners, path) is { } existing)
            await docs.ReplaceAsync(Collection.FileOwners, existing, body);
    }

    public Task ForgetAsync(string path) => docs.DeleteAsync(Collection.FileOwners, path);

    /// <summary>The task or model a path names, if any.</summary>
    public static (Collection, string)? EntityOf(string path)
    {
        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (TaskFolder().Match(segments[i]) is { Success: true } task)
                return (Collection.Tasks, task.Groups[1].Value);
            if (i > 0 && segments[i - 1] == "models" && Id().IsMatch(segments[i]))
                return (Collection.Models, segments[i]);
        }
        return null;
    }

    private static ApiException NotFound(string path) => new(404, 0, $"no file at {path}");

    [GeneratedRegex(@"\.([0-9a-f]{32})$")]
    private static partial Regex TaskFolder();

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex Id();
}
