using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Server.Storage.Documents;

/// <summary>Reads a stored JSON document as its record and writes a record, or the change made to one, back as JSON.</summary>
public static class DocumentJson
{
    /// <summary>The document as its record; fields it does not model go to <see cref="IDocument{TSelf}.Extra"/>.</summary>
    public static T As<T>(this JsonObject body) where T : IDocument<T> =>
        body.Deserialize(T.JsonInfo) ?? throw new JsonException($"a stored {typeof(T).Name} is null");

    /// <inheritdoc cref="As{T}(JsonObject)"/>
    public static T As<T>(this StoredDoc stored) where T : IDocument<T> => stored.Body.As<T>();

    /// <summary>A whole record as a new document (null properties left out, unmodelled fields as they are).</summary>
    /// <param name="nulls">Fields written as an explicit null when the record holds null (a root project's <c>parent</c>).</param>
    public static JsonObject ToJson<T>(T document, IEnumerable<string>? nulls = null) where T : IDocument<T>
    {
        var json = JsonSerializer.SerializeToNode(document, T.JsonInfo) as JsonObject ?? throw new JsonException($"a {typeof(T).Name} did not serialise to an object");
        foreach (var field in nulls ?? [])
            json.TryAdd(field, null);
        return json;
    }

    /// <summary>
    /// Applies the change from <paramref name="before"/> to <paramref name="after"/> to the stored document in place: a field whose
    /// value differs is written (a modelled one that became null as an explicit null, as assigning null to a
    /// <see cref="JsonObject"/> does; an unmodelled one that went from <c>Extra</c> is removed), and every other field keeps
    /// its stored form and place, so an untouched explicit null stays null and an absent field stays absent.
    /// </summary>
    /// <param name="namedNulls">Modelled fields a request set to null: written as null even where the stored document lacks them.</param>
    public static void Apply<T>(JsonObject stored, T before, T after, IEnumerable<string>? namedNulls = null) where T : IDocument<T>
    {
        var old = ToJson(before);
        var now = ToJson(after);
        var modelled = T.JsonInfo.Properties.Where(p => !p.IsExtensionData).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var key in old.Select(p => p.Key).Union(now.Select(p => p.Key)).ToList())
        {
            var was = old[key];
            if (now.TryGetPropertyValue(key, out var value))
            {
                if (!old.ContainsKey(key) || !JsonNode.DeepEquals(was, value))
                    stored[key] = value?.DeepClone();
            }
            else if (modelled.Contains(key))
                stored[key] = null;
            else
                stored.Remove(key);
        }
        foreach (var key in namedNulls ?? [])
        {
            if (modelled.Contains(key) && !now.ContainsKey(key))
                stored[key] = null;
        }
    }

    /// <summary>The named fields of a request that are explicit JSON nulls (see <see cref="Apply"/>).</summary>
    public static IEnumerable<string> NullsIn(JsonObject request) => request.Where(p => p.Value is null).Select(p => p.Key);
}
