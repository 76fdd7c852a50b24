using System.Text.Json.Nodes;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>
/// Data one registry-page test makes for itself through the API (a project of its own, tasks, queues, models) and
/// deletes afterwards, so that the tests sharing the server see only the seeded runs.
/// </summary>
public sealed class RegistryScratch(WebFixture web) : IAsyncDisposable
{
    private readonly List<string> _tasks = [];
    private readonly List<string> _queues = [];
    private readonly List<string> _models = [];
    private string? _project;

    public string Unique { get; } = Guid.NewGuid().ToString("N")[..8];

    public async Task<string> ProjectAsync()
    {
        _project ??= Id(await web.ApiAsync("projects.create", new JsonObject { ["name"] = $"registry-{Unique}", ["description"] = "registry page test" }));
        return _project;
    }

    public async Task<string> TaskAsync(string name)
    {
        var id = await web.NewTaskAsync(name, project: await ProjectAsync());
        _tasks.Add(id);
        return id;
    }

    public async Task<string> QueueAsync(string name)
    {
        var id = Id(await web.ApiAsync("queues.create", new JsonObject { ["name"] = $"{name}-{Unique}" }));
        _queues.Add(id);
        return id;
    }

    public async Task<string> ModelAsync(JsonObject body)
    {
        var id = Id(await web.ApiAsync("models.create", body));
        _models.Add(id);
        return id;
    }

    public async Task EnqueueAsync(string task, string queue) =>
        await web.ApiAsync("tasks.enqueue", new JsonObject { ["task"] = task, ["queue"] = queue });

    /// <summary>The queue's tasks in order, as the API has them.</summary>
    public async Task<List<string>> EntriesAsync(string queue) =>
        ((await web.ApiAsync("queues.get_by_id", new JsonObject { ["queue"] = queue }))["queue"]!["entries"] as JsonArray ?? [])
        .Select(e => e!["task"]!.GetValue<string>()).ToList();

    public static string Id(JsonObject data) => data["id"]!.GetValue<string>();

    public async ValueTask DisposeAsync()
    {
        foreach (var model in _models)
            await web.ApiAsync("models.delete", new JsonObject { ["model"] = model, ["force"] = true });
        foreach (var queue in _queues)
            await web.ApiAsync("queues.delete", new JsonObject { ["queue"] = queue, ["force"] = true });
        if (_tasks.Count > 0)
            await web.ApiAsync("tasks.delete_many", new JsonObject { ["ids"] = new JsonArray(_tasks.Select(t => (JsonNode)t).ToArray()), ["force"] = true });
        if (_project is not null)
            await web.ApiAsync("projects.delete", new JsonObject { ["project"] = _project, ["force"] = true, ["delete_contents"] = true });
    }
}
