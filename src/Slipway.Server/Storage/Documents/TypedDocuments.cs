namespace Slipway.Server.Storage.Documents;

/// <summary>The document store read and written in records; the stored form stays JSON (indexes, <c>only_fields</c>).</summary>
public static class TypedDocuments
{
    public static async Task<T?> GetAsync<T>(this IDocumentStore docs, string id, CancellationToken ct = default) where T : class, IDocument<T> =>
        await docs.GetAsync(T.Collection, id, ct) is { } stored ? stored.As<T>() : null;

    public static async Task<List<T>> FindAsync<T>(this IDocumentStore docs, DocQuery query, CancellationToken ct = default) where T : IDocument<T> =>
        (await docs.FindAsync(T.Collection, query, ct)).Select(d => d.As<T>()).ToList();

    /// <summary>Inserts a new document under its id; false when the id or a unique field is taken.</summary>
    public static Task<bool> InsertAsync<T>(this IDocumentStore docs, T document, CancellationToken ct = default) where T : IDocument<T> =>
        docs.InsertAsync(T.Collection, document.Id, DocumentJson.ToJson(document), ct);
}
