using Slipway.Server.Core;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;
using Slipway.Wire;

namespace Slipway.Server.Domain.Projects;

/// <summary>Projects as a tree of '/'-separated paths: finding one by its full name, creating one with its missing parents.</summary>
public sealed class ProjectTree(IDocumentStore docs, SecurityEpoch epoch, TimeProvider clock)
{
    public async Task<ProjectDocument?> FindByNameAsync(string name, string company, CancellationToken ct) =>
        (await docs.FindAsync<ProjectDocument>(new DocQuery { Take = 1 }.Where(new FieldIn(DocumentFields.Name, [name])).Where(Tenants.Filter(company)), ct))
        .FirstOrDefault();

    /// <summary>
    /// Creates the project and any missing parents; returns the id of the last one. Parents made
    /// concurrently by someone else are used as they are; the project itself must be new.
    /// </summary>
    /// <param name="describe">Sets the new project's own fields (description, tags...).</param>
    /// <param name="namedNulls">Fields <paramref name="describe"/> set to null that the document keeps as explicit nulls.</param>
    public async Task<string> CreatePathAsync(string name, Identity caller, Func<ProjectDocument, ProjectDocument>? describe, CancellationToken ct,
        IEnumerable<string>? namedNulls = null)
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
            var project = new ProjectDocument
            {
                Id = id,
                Name = path,
                Basename = segments[i],
                Description = "",
                User = caller.User,
                Company = caller.Company,
                Created = now,
                LastUpdate = now,
                Tags = [],
                SystemTags = [],
                Parent = parent,
                // Private to its creator until shared (projects.set_permissions); a sub-project also has its parents' grants.
                Permissions = [],
            };
            if (isLeaf && describe is not null)
                project = describe(project);
            // A root project's parent is an explicit null, as the reference server answers it.
            var body = DocumentJson.ToJson(project, isLeaf ? [ProjectFields.Parent, .. namedNulls ?? []] : [ProjectFields.Parent]);
            if (!await docs.InsertAsync(Collection.Projects, id, body, ct))
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
