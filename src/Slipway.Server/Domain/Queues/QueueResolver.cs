using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;
using Slipway.Wire;

namespace Slipway.Server.Domain.Queues;

/// <summary>Finds queues by id, name or the default tag, creating a named one on request, and keeps the default queue.</summary>
public sealed class QueueResolver(IDocumentStore docs, TimeProvider clock)
{
    public const string DefaultQueueName = "default";

    public async Task<string> ResolveForEnqueueAsync(string? queueId, string? queueName, Identity caller, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(queueId))
            return await docs.GetAsync<QueueDocument>(queueId, ct) is { } queue && Tenants.Of(queue.Company) == caller.Company
                ? queue.Id
                : throw ApiException.InvalidQueueId(queueId);
        if (!string.IsNullOrEmpty(queueName))
            return (await FindByNameAsync(queueName, caller.Company, ct))?.Id ?? await CreateAsync(queueName, [], [], caller, ct);
        return (await FindDefaultAsync(caller.Company, ct))?.Id ?? throw ApiException.NoDefaultQueue();
    }

    public async Task<QueueDocument?> FindByNameAsync(string name, string company, CancellationToken ct) =>
        (await docs.FindAsync<QueueDocument>(new DocQuery { Take = 1 }.Where(new FieldIn(DocumentFields.Name, [name])).Where(Tenants.Filter(company)), ct))
        .FirstOrDefault();

    public async Task<QueueDocument?> FindDefaultAsync(string company, CancellationToken ct) =>
        (await docs.FindAsync<QueueDocument>(new DocQuery { Take = 1 }
            .Where(new TagMatch(DocumentFields.SystemTags, TagQuery.Parse([QueueFields.DefaultTag]))).Where(Tenants.Filter(company)), ct))
        .FirstOrDefault();

    /// <summary>Creates a queue; a concurrent create of the same name returns the one that won.</summary>
    public async Task<string> CreateAsync(string name, IEnumerable<string> tags, IEnumerable<string> systemTags, Identity caller, CancellationToken ct,
        string? displayName = null, JsonObject? metadata = null)
    {
        var now = Json.Timestamp(clock.GetUtcNow());
        var queue = new QueueDocument
        {
            Id = Guid.NewGuid().ToString("N"),
            Name = name,
            DisplayName = displayName ?? name,
            User = caller.User,
            Company = caller.Company,
            Created = now,
            LastUpdate = now,
            Tags = Json.Sorted(tags),
            SystemTags = Json.Sorted(systemTags),
            Metadata = (JsonObject?)metadata?.DeepClone() ?? [],
        };
        if (await docs.InsertAsync(queue, ct))
            return queue.Id;
        return (await FindByNameAsync(name, caller.Company, ct))?.Id ?? throw ApiException.NotUnique($"queue name '{name}'");
    }

    /// <summary>Makes sure the owner's tenant has a default queue (at every start for the first tenant, and for a new tenant's first user).</summary>
    public async Task EnsureDefaultAsync(Identity owner, CancellationToken ct)
    {
        if (await FindDefaultAsync(owner.Company, ct) is null && await FindByNameAsync(DefaultQueueName, owner.Company, ct) is null)
            await CreateAsync(DefaultQueueName, [], [QueueFields.DefaultTag], owner, ct);
    }
}
