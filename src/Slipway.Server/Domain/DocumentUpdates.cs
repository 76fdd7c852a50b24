using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Domain;

/// <summary>
/// Read-modify-write of one document, atomic through compare-and-swap: the change runs on a fresh copy
/// whenever another writer (a concurrent call, another replica) stored first, with a short growing backoff.
/// </summary>
public static class DocumentUpdates
{
    private const int Attempts = 20;

    /// <summary>Applies <paramref name="change"/> to a copy and stores it; returns the stored body.</summary>
    /// <param name="missing">The error for a document that does not exist; null to return null instead.</param>
    public static async Task<JsonObject?> UpdateAsync(this IDocumentStore docs, Collection collection, string id, Action<JsonObject> change,
        Func<Exception>? missing, CancellationToken ct)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var current = await docs.GetAsync(collection, id, ct);
            if (current is null)
                return missing is null ? null : throw missing();
            var body = (JsonObject)current.Body.DeepClone();
            change(body);
            if (await docs.ReplaceAsync(collection, current, body, ct))
                return body;
            await Task.Delay(Random.Shared.Next(0, 2 + attempt * 2), ct);
        }
        throw new ApiException(409, 0, $"The document kept changing while it was being updated; try again (id={id})");
    }

    /// <summary>
    /// The same read-modify-write with the document as its record: <paramref name="change"/> returns the changed record,
    /// and only the fields it changed are written (<see cref="DocumentJson.Apply"/>). Returns the stored record.
    /// </summary>
    /// <param name="namedNulls">Modelled fields the request set to null, written as null even where the document lacks them.</param>
    public static async Task<T?> UpdateAsync<T>(this IDocumentStore docs, string id, Func<T, T> change, Func<Exception>? missing, CancellationToken ct,
        IEnumerable<string>? namedNulls = null) where T : IDocument<T>
    {
        var body = await docs.UpdateAsync(T.Collection, id, current =>
        {
            var before = current.As<T>();
            DocumentJson.Apply(current, before, change(before), namedNulls);
        }, missing, ct);
        return body is null ? default : body.As<T>();
    }
}
