using System.Text.Json.Nodes;
using Slipway.Wire;

namespace Slipway.Client;

/// <summary>Execution queues that agents pull tasks from.</summary>
public sealed class QueuesClient
{
    private readonly SlipwayClient _client;

    internal QueuesClient(SlipwayClient client) => _client = client;

    /// <summary>Lists the queues with their entries.</summary>
    public async Task<IReadOnlyList<QueueInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        var data = await _client.CallAsync("queues.get_all", new JsonObject { ["order_by"] = new JsonArray(DocumentFields.Name) }, cancellationToken).ConfigureAwait(false);
        return data["queues"] is JsonArray list ? list.OfType<JsonObject>().Select(QueueInfo.From).ToList() : [];
    }

    /// <summary>Finds a queue by name or id; null when there is none.</summary>
    public async Task<QueueInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default) =>
        (await ListAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(q => q.Name == nameOrId || q.Id == nameOrId);

    /// <summary>Creates a queue and returns its id.</summary>
    public async Task<string> CreateAsync(string name, IReadOnlyList<string>? tags = null, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { [DocumentFields.Name] = name };
        if (tags is not null)
            body[DocumentFields.Tags] = tags.ToJsonArray();
        var data = await _client.CallAsync("queues.create", body, cancellationToken).ConfigureAwait(false);
        return data.Str("id") ?? throw new SlipwayException("queues.create: the answer has no id");
    }

    /// <summary>Deletes a queue (force: even when it holds tasks).</summary>
    public Task DeleteAsync(string queueId, bool force = false, CancellationToken cancellationToken = default) =>
        _client.CallAsync("queues.delete", new JsonObject { ["queue"] = queueId, ["force"] = force }, cancellationToken);
}

/// <summary>A queue and the task ids waiting in it, first to run first.</summary>
public sealed record QueueInfo(string Id, string Name, IReadOnlyList<string> Tags, IReadOnlyList<string> SystemTags, IReadOnlyList<string> Entries, DateTimeOffset? Created)
{
    internal static QueueInfo From(JsonObject q) => new(
        q.Str(DocumentFields.Id) ?? "", q.Str(DocumentFields.Name) ?? "", q.Strings(DocumentFields.Tags), q.Strings(DocumentFields.SystemTags),
        q[QueueFields.Entries] is JsonArray e ? e.Select(x => x.Str("task")).OfType<string>().ToList() : [],
        q.Time(DocumentFields.Created));
}
