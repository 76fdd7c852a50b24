using System.Text.Json.Nodes;

namespace Slipway.Client;

/// <summary>Projects: folders of tasks, named by their full <c>/</c>-separated path.</summary>
public sealed class ProjectsClient
{
    private readonly SlipwayClient _client;

    internal ProjectsClient(SlipwayClient client) => _client = client;

    /// <summary>Finds a project by its full name; null when there is none.</summary>
    public async Task<ProjectInfo?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        var data = await _client.CallAsync("projects.get_all", new JsonObject
        {
            ["name"] = JsonRead.ExactName(name),
            ["search_hidden"] = true,
            ["shallow_search"] = false,
        }, cancellationToken).ConfigureAwait(false);
        return data["projects"] is JsonArray { Count: > 0 } list ? ProjectInfo.From(list[0]!) : null;
    }

    /// <summary>Returns the id of the project with this full name, creating it (and its parents) when missing.</summary>
    public async Task<string> GetOrCreateAsync(string name, IReadOnlyList<string>? systemTags = null, CancellationToken cancellationToken = default)
    {
        if (await FindAsync(name, cancellationToken).ConfigureAwait(false) is { } existing)
            return existing.Id;
        try
        {
            var body = new JsonObject { ["name"] = name, ["description"] = "" };
            if (systemTags is not null)
                body["system_tags"] = systemTags.ToJsonArray();
            var data = await _client.CallAsync("projects.create", body, cancellationToken).ConfigureAwait(false);
            return data.Str("id") ?? throw new SlipwayException("projects.create: the answer has no id");
        }
        catch (SlipwayException e) when (e.ResultCode == 400)
        {
            // Another client created it between the lookup and the create.
            if (await FindAsync(name, cancellationToken).ConfigureAwait(false) is { } created)
                return created.Id;
            throw;
        }
    }

    /// <summary>Reads one project.</summary>
    public async Task<ProjectInfo> GetAsync(string projectId, CancellationToken cancellationToken = default)
    {
        var data = await _client.CallAsync("projects.get_by_id", new JsonObject { ["project"] = projectId }, cancellationToken).ConfigureAwait(false);
        return ProjectInfo.From(data["project"] ?? throw new SlipwayException($"projects.get_by_id: no project {projectId}"));
    }

    /// <summary>Lists projects (hidden ones, such as dataset folders, only when asked).</summary>
    public async Task<IReadOnlyList<ProjectInfo>> ListAsync(bool includeHidden = false, CancellationToken cancellationToken = default)
    {
        var data = await _client.CallAsync("projects.get_all", new JsonObject
        {
            ["search_hidden"] = includeHidden,
            ["order_by"] = new JsonArray("name"),
            ["page_size"] = 10_000,
        }, cancellationToken).ConfigureAwait(false);
        return data["projects"] is JsonArray list ? list.Where(p => p is not null).Select(p => ProjectInfo.From(p!)).ToList() : [];
    }

    /// <summary>Sets a project's system tags.</summary>
    public Task SetSystemTagsAsync(string projectId, IReadOnlyList<string> systemTags, CancellationToken cancellationToken = default) =>
        _client.CallAsync("projects.update", new JsonObject { ["project"] = projectId, ["system_tags"] = systemTags.ToJsonArray() }, cancellationToken);
}

/// <summary>A project.</summary>
/// <param name="Id">The project id.</param>
/// <param name="Name">The full <c>/</c>-separated name.</param>
/// <param name="SystemTags">System tags (<c>hidden</c>, <c>dataset</c>).</param>
/// <param name="Raw">The whole project document.</param>
public sealed record ProjectInfo(string Id, string Name, IReadOnlyList<string> SystemTags, JsonNode Raw)
{
    internal static ProjectInfo From(JsonNode p) => new(p.Str("id") ?? "", p.Str("name") ?? "", p.Strings("system_tags"), p);
}
