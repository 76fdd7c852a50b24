using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Queues;

/// <summary>Finds queues by id, name or the default tag, creating a named one on request, and keeps the default queue.</summary>
public sealed class QueueResolver(IDocumentStore docs, TimeProvider clock)
{
    public const string DefaultQueueName = "default";

    public async Task<string> ResolveForEnqueueAsync(string? queueId, string? queueName, Identity caller, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(queueId))
            return await docs.GetAsync(Collection.Queues, queueId, ct) is { } queue && Tenants.Of(queue.Body) == caller.Company
                ? queue.Id
                : throw ApiException.InvalidQueueId(queueId);
        if (!string.IsNullOrEmpty(queueName))
            return (await FindByNameAsync(queueName, caller.Company, ct))?.Id ?? await CreateAsync(queueName, [], [], caller, ct);
        return (await FindDefaultAsync(caller.Company, ct))?.Id ?? throw ApiException.NoDefaultQueue();
    }

    public async Task<StoredDoc?> FindByNameAsync(string name, string company, CancellationToken ct) =>
        (await docs.FindAsync(Collection.Queues, new DocQuery { Take = 1 }.Where(new FieldIn("name", [name])).Where(Tenants.Filter(company)), ct)).FirstOrDefault();

    public async Task<StoredDoc?> FindDefaultAsync(string company, CancellationToken ct) =>
        (await docs.FindAsync(Collection.Queues, new DocQuery { Take = 1 }.Where(new TagMatch("system_tags", TagQuery.Parse(["default"]))).Where(Tenants.Filter(company)), ct))
        .FirstOrDefault();

    /// <summary>Creates a queue; a concurrent create of the same name returns the one that won.</summary>
    public async Task<string> CreateAsync(string name, IEnumerable<string> tags, IEnumerable<string> systemTags, Identity caller, CancellationToken ct,
        string? displayName = null, JsonObject? metadata = null)
    {
        var id = Guid.NewGuid().ToString("N");
        var doc = new JsonObject
        {
            ["id"] = id,
            ["name"] = name,
            ["display_name"] = displayName ?? name,
            ["user"] = caller.User,
            ["company"] = caller.Company,
            ["created"] = Json.Timestamp(clock.GetUtcNow()),
            ["last_update"] = Json.Timestamp(clock.GetUtcNow()),
            ["tags"] = Json.SortedStrings(tags),
            ["system_tags"] = Json.SortedStrings(systemTags),
            ["metadata"] = metadata?.DeepClone() ?? new JsonObject(),
        };
        if (await docs.InsertAsync(Collection.Queues, id, doc, ct))
            return id;
        return (await FindByNameAsync(name, caller.Company, ct))?.Id ?? throw ApiException.NotUnique($"queue name '{name}'");
    }

    /// <summary>Makes sure the owner's tenant has a default queue (at every start for the first tenant, and for a new tenant's first user).</summary>
    public async Task EnsureDefaultAsync(Identity owner, CancellationToken ct)
    {
        if (await FindDefaultAsync(owner.Company, ct) is null && await FindByNameAsync(DefaultQueueName, owner.Company, ct) is null)
            await CreateAsync(DefaultQueueName, [], ["default"], owner, ct);
    }
}
