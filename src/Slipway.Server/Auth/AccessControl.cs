using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Projects;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Auth;

/// <summary>What a user may do with one entity: nothing (it is not even shown), read it, change it, or also share it.</summary>
public enum Level
{
    None = 0,
    Read = 1,
    Write = 2,
    Owner = 3,
}

/// <summary>
/// Who may see and change what. Every entity belongs to a tenant (its <c>company</c>), and nothing of another tenant is ever
/// shown. Within a tenant, projects carry the permissions: the creator owns a project, and its <c>permissions</c> map grants
/// read, write or owner to users (or to every member, as "*"); a sub-project inherits its parents' grants; tasks, models and
/// datasets have their project's. A task or model without a project belongs to its creator. Projects made before
/// permissions existed (no map) stay open to every member for writing, as they were. Admins own everything in their
/// tenant; viewers never more than read; customers only their own tasks and published templates.
/// The projects' grants of a tenant are read once per security epoch (every grant, project creation or deletion bumps it),
/// so a check costs the entity's own read and nothing more.
/// </summary>
public sealed class AccessControl(IDocumentStore docs, ServerOptions options)
{
    /// <summary>False only in the benchmark's server without checks (<see cref="ServerOptions.CheckPermissions"/>).</summary>
    public bool Enabled { get; } = options.CheckPermissions;

    public const string Everyone = "*";

    private readonly ConcurrentDictionary<string, ProjectGrants> _grants = new(StringComparer.Ordinal);

    private sealed record ProjectNode(string? Parent, string? Owner, Dictionary<string, Level>? Permissions);

    private sealed class ProjectGrants(long epoch, Dictionary<string, ProjectNode> projects)
    {
        private readonly ConcurrentDictionary<string, Dictionary<string, Level>> _byUser = new(StringComparer.Ordinal);
        public long Epoch { get; } = epoch;

        public bool Contains(string id) => projects.ContainsKey(id);

        /// <summary>How many projects the tenant has.</summary>
        public int Count => projects.Count;

        /// <summary>The user's level on every project of the tenant where it is above none.</summary>
        public Dictionary<string, Level> For(string user) => _byUser.GetOrAdd(user, u =>
            projects.Keys.Select(id => (id, Level: Compute(u, id))).Where(p => p.Level > Level.None).ToDictionary(p => p.id, p => p.Level));

        private Level Compute(string user, string id)
        {
            var best = Level.None;
            for (var (current, depth) = (id, 0); current is not null && depth < 64 && projects.TryGetValue(current, out var node); (current, depth) = (node.Parent, depth + 1))
            {
                if (node.Owner == user)
                    return Level.Owner;
                var granted = node.Permissions is null ? Level.Write
                    : node.Permissions.TryGetValue(user, out var own) ? own
                    : node.Permissions.GetValueOrDefault(Everyone);
                best = (Level)Math.Max((int)best, (int)granted);
            }
            return best;
        }
    }

    private static string? OwnerOf(JsonObject doc) => doc["user"] is JsonObject ? Json.GetString(doc, "user.id") : Json.GetString(doc, "user");

    /// <summary>The caller's level on a task, model, project, queue or worker document.</summary>
    public async ValueTask<Level> LevelAsync(Identity caller, Collection collection, JsonObject doc, CancellationToken ct)
    {
        if (!Enabled)
            return Level.Owner;
        if (Tenants.Of(doc) != caller.Company)
            return Level.None;
        if (caller.IsAdmin)
            return Level.Owner;
        var owner = OwnerOf(doc);
        if (caller.Role == Roles.Agent)
        {
            // It runs whatever its queues hand it: it writes tasks and models, it only reads the rest.
            return collection switch
            {
                Collection.Tasks or Collection.Models => Level.Write,
                Collection.Queues or Collection.Workers => owner == caller.User ? Level.Owner : Level.Read,
                Collection.Projects or Collection.ServingEndpoints => Level.Read,
                _ => Level.None,
            };
        }
        if (caller.Role == Roles.Customer)
        {
            if (collection != Collection.Tasks)
                return collection == Collection.Queues ? Level.Read : Level.None;
            return owner == caller.User ? Level.Write : Json.GetString(doc, "status") == TaskStatuses.Published ? Level.Read : Level.None;
        }
        var level = collection switch
        {
            Collection.Projects => await ProjectLevelAsync(caller, Json.GetString(doc, "id"), ct),
            Collection.Tasks or Collection.Models => Json.GetString(doc, "project") is { Length: > 0 } project
                ? await ProjectLevelAsync(caller, project, ct)
                : owner == caller.User ? Level.Owner : Level.None,
            // Queues and workers are the tenant's shared compute: everyone uses them, their creator (or an admin) changes them.
            Collection.Queues or Collection.Workers => owner == caller.User ? Level.Owner : Level.Read,
            // Endpoints are shared like queues: the tenant's hosts serve them all, their creator (or an admin) changes them.
            Collection.ServingEndpoints => owner == caller.User ? Level.Owner : Level.Read,
            _ => Level.None,
        };
        return caller.Role == Roles.Viewer ? (Level)Math.Min((int)level, (int)Level.Read) : level;
    }

    /// <summary>
    /// Checks that the caller may put a project at <paramref name="name"/>: inside an existing project takes write access to
    /// the nearest one that exists (a sub-project inherits its grants, so nobody plants projects in another's private
    /// tree). With <paramref name="mayExist"/> (find or create) an existing one takes write access itself; without, its
    /// name is taken, and one the caller cannot see is said to be, since names are unique in a tenant.
    /// </summary>
    public async ValueTask CheckProjectPathAsync(Identity caller, string name, ProjectTree tree, bool mayExist, CancellationToken ct)
    {
        if (!Enabled || caller.IsAdmin)
            return;
        var segments = ProjectPaths.Normalize(name).Split('/');
        for (var i = segments.Length; i >= 1; i--)
        {
            var path = string.Join('/', segments[..i]);
            if (await tree.FindByNameAsync(path, caller.Company, ct) is not { } existing)
                continue;
            var level = await LevelAsync(caller, Collection.Projects, DocumentJson.ToJson(existing), ct);
            if (i == segments.Length && !mayExist)
                throw level == Level.None
                    ? ApiException.NotUnique($"project name '{path}' is taken by a project you have no access to; ask its owner or an admin to share it, or choose another name")
                    : ApiException.NotUnique($"project name '{path}'");
            if (level < Level.Write)
                throw RouteAccess.Forbidden($"write access to project '{path}' is needed to {(i == segments.Length ? "use it" : "create projects inside it")}");
            return;
        }
    }

    public async ValueTask<Level> ProjectLevelAsync(Identity caller, string? project, CancellationToken ct)
    {
        if (project is null)
            return Level.None;
        var grants = await GrantsAsync(caller, ct);
        return caller.IsAdmin ? grants.Contains(project) ? Level.Owner : Level.None : grants.For(caller.User).GetValueOrDefault(project);
    }

    /// <summary>What a list of <paramref name="collection"/> shows the caller: its tenant's, and of those only what it may read.</summary>
    /// <param name="projects">The projects the request itself filters on, if it does: when the caller may read all of them
    /// (the usual case: a project's page, the SDK's queries) nothing more is needed, which keeps the query on its index.</param>
    public async ValueTask<DocFilter> VisibleAsync(Identity caller, Collection collection, CancellationToken ct, IReadOnlyCollection<string>? projects = null)
    {
        if (!Enabled)
            return new AllOf([]);
        if (caller.Role == Roles.Agent)
            return collection == Collection.Workers ? Tenants.Filter(caller.Company, "company.id") : Tenants.Filter(caller.Company);
        if (projects is { Count: > 0 } && collection is Collection.Tasks or Collection.Models && caller.Role is not Roles.Customer)
        {
            var grants = await GrantsAsync(caller, ct);
            var asked = caller.IsAdmin ? projects.Where(grants.Contains).ToList() : projects.Where(grants.For(caller.User).ContainsKey).ToList();
            return asked.Count == projects.Count ? new AllOf([]) : new FieldIn("project", asked);
        }
        var tenant = Tenants.Filter(caller.Company);
        if (collection == Collection.Workers)
            return Tenants.Filter(caller.Company, "company.id");
        if (caller.IsAdmin || collection == Collection.Queues || (collection == Collection.ServingEndpoints && caller.Role is not Roles.Customer))
            return tenant;
        if (caller.Role == Roles.Customer)
            return new AllOf([tenant, collection == Collection.Tasks
                ? new AnyOf([new FieldIn("user", [caller.User]), new FieldIn("status", [TaskStatuses.Published])])
                : new FieldIn("id", [])]);
        // The readable projects are the tenant's, and a user is in one tenant, so the tenant needs no test of its own here.
        var tenantGrants = await GrantsAsync(caller, ct);
        var readable = tenantGrants.For(caller.User).Keys.ToList();
        if (collection == Collection.Projects)
            return new FieldIn("id", readable);
        var scope = new AnyOf([new FieldIn("project", readable), new AllOf([new FieldMissing("project"), new FieldIn("user", [caller.User])])]);
        // Reading a tenth of the projects or more, an ordered page is found sooner by walking the sort index than by
        // sorting every readable task (see Broad); below that the readable tasks are few enough to gather and sort.
        return readable.Count * 10 >= tenantGrants.Count ? new Broad(scope) : scope;
    }

    private async ValueTask<ProjectGrants> GrantsAsync(Identity caller, CancellationToken ct)
    {
        if (_grants.TryGetValue(caller.Company, out var known) && known.Epoch == caller.Epoch)
            return known;
        var projects = await docs.FindAsync<ProjectDocument>(new DocQuery().Where(Tenants.Filter(caller.Company)), ct);
        var loaded = new ProjectGrants(caller.Epoch, projects.ToDictionary(p => p.Id, p => new ProjectNode(p.Parent, p.User, Permissions(p.Permissions))));
        _grants[caller.Company] = loaded;
        return loaded;
    }

    private static Dictionary<string, Level>? Permissions(JsonObject? map) =>
        map?.Where(p => p.Value is JsonValue).ToDictionary(p => p.Key, p => Parse(p.Value!.GetValue<string>()));

    public static Level Parse(string level) => level switch
    {
        "read" => Level.Read,
        "write" => Level.Write,
        "owner" => Level.Owner,
        _ => Level.None,
    };

    public static string Name(Level level) => level.ToString().ToLowerInvariant();
}
