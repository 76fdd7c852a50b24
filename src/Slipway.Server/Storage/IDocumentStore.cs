using System.Text.Json.Nodes;

namespace Slipway.Server.Storage;

/// <summary>A stored document and the version it was read at (for compare-and-swap updates).</summary>
public sealed record StoredDoc(string Id, long Version, JsonObject Body);

/// <summary>Metadata documents (projects, tasks, queues, users…), read, queried and swapped atomically.</summary>
public interface IDocumentStore
{
    Task<StoredDoc?> GetAsync(Collection collection, string id, CancellationToken ct = default);

    Task<List<StoredDoc>> FindAsync(Collection collection, DocQuery query, CancellationToken ct = default);

    Task<long> CountAsync(Collection collection, DocQuery query, CancellationToken ct = default);

    /// <summary>Counts matches, stopping at <paramref name="limit"/>: the cost is bounded however many there are.</summary>
    Task<long> CountUpToAsync(Collection collection, DocQuery query, long limit, CancellationToken ct = default);

    /// <summary>Counts documents per value of one or two fields (e.g. tasks per project and status).</summary>
    Task<List<GroupCount>> CountByAsync(Collection collection, DocQuery query, string field1, string? field2, CancellationToken ct = default);

    /// <summary>Inserts a new document; false when the id or a unique field (a project's or queue's name) is taken.</summary>
    Task<bool> InsertAsync(Collection collection, string id, JsonObject body, CancellationToken ct = default);

    /// <summary>Replaces a document only if it is still at the version it was read at; false when someone changed it first.</summary>
    Task<bool> ReplaceAsync(Collection collection, StoredDoc current, JsonObject body, CancellationToken ct = default);

    Task<bool> DeleteAsync(Collection collection, string id, CancellationToken ct = default);
}
