using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Projects;

/// <summary>Projects as a tree of '/'-separated paths: finding one by its full name, creating one with its missing parents.</summary>
public sealed class ProjectTree(IDocumentStore docs, SecurityEpoch epoch, TimeProvider clock)
{
    public async Task<StoredDoc?> FindByNameAsync(string name, string company, CancellationToken ct) =>
        (await docs.FindAsync(Collection.Projects, new DocQuery { Take = 1 }.Where(new FieldIn("name", [name])).Where(Tenants.Filter(company)), ct)).FirstOrDefault();

    /// <summary>
    /// Creates the project and any missing parents; returns the id of the last one. Parents made
    /// concurrently by someone else are used as they are; the project itself must be new.
    /// </summary>
    public async Task<string> CreatePathAsync(string name, Identity caller, Action<JsonObject>? describe, CancellationToken ct)
    {
        name = ProjectPaths.Normalize(name);
        string? parent = null;
        var segments = name.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var path = string.Join('/', segments[..(i + 1)]);
            var isLeaf = i == segments.Length - 1;
            var existing = await FindByNameAsync(path, caller.Company, ct);
            if (existing is not null)
            {
                if (isLeaf)
                    throw ApiException.NotUnique($"project name '{path}'");
                parent = existing.Id;
                continue;
            }
            var now = Json.Timestamp(clock.GetUtcNow());
            var id = Guid.NewGuid().ToString("N");
            var doc = new JsonObject
            {
                ["id"] = id,
                ["name"] = path,
                ["basename"] = segments[i],
                ["description"] = "",
                ["user"] = caller.User,
                ["company"] = caller.Company,
                ["created"] = now,
                ["last_update"] = now,
                ["tags"] = new JsonArray(),
                ["system_tags"] = new JsonArray(),
                ["parent"] = parent,
                // Private to its creator until shared (projects.set_permissions); a sub-project also has its parents' grants.
                ["permissions"] = new JsonObject(),
            };
            if (isLeaf)
                describe?.Invoke(doc);
            if (!await docs.InsertAsync(Collection.Projects, id, doc, ct))
            {
                existing = await FindByNameAsync(path, caller.Company, ct);
                if (existing is null || isLeaf)
                    throw ApiException.NotUnique($"project name '{path}'");
                id = existing.Id;
            }
            else
            {
                await epoch.BumpAsync();
            }
            parent = id;
        }
        return parent!;
    }

    /// <summary>The id of the project with this name, created (with parents) if missing.</summary>
    public async Task<string> EnsureAsync(string name, Identity caller, CancellationToken ct) =>
        (await FindByNameAsync(ProjectPaths.Normalize(name), caller.Company, ct))?.Id ?? await CreatePathAsync(name, caller, null, ct);
}
