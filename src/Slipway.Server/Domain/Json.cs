using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Server.Domain;

/// <summary>Small helpers over JSON documents: dotted paths, projections, timestamps in the wire format.</summary>
public static class Json
{
    /// <summary>ISO-8601 UTC with microseconds and an explicit offset, the shape the SDK's models parse.</summary>
    public static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'", CultureInfo.InvariantCulture);

    public static JsonNode? Get(JsonObject doc, string dottedPath)
    {
        JsonNode? node = doc;
        foreach (var segment in dottedPath.Split('.'))
        {
            if (node is not JsonObject obj || !obj.TryGetPropertyValue(segment, out node))
                return null;
        }
        return node;
    }

    /// <summary>A number however it is held (int, long, double or parsed JSON), or null.</summary>
    public static long? GetLong(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? v.TryGetValue(out long l) ? l : v.TryGetValue(out int i) ? i : (long)v.GetValue<double>()
            : null;

    public static double? GetDouble(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? v.TryGetValue(out double d) ? d : v.TryGetValue(out long l) ? l : v.TryGetValue(out int i) ? i : null
            : null;

    public static string? GetString(JsonObject doc, string dottedPath) =>
        Get(doc, dottedPath) is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    public static bool GetBool(JsonObject doc, string dottedPath) =>
        Get(doc, dottedPath) is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    public static List<string> GetStrings(JsonObject doc, string field) =>
        doc[field] is JsonArray array
            ? array.Select(n => n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null)
                .OfType<string>().ToList()
            : [];

    public static JsonArray SortedStrings(IEnumerable<string> values) =>
        new(values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());

    /// <summary>Sets a value at a dotted path, creating the objects on the way.</summary>
    public static void Set(JsonObject doc, string dottedPath, JsonNode? value)
    {
        var parts = dottedPath.Split('.');
        var target = doc;
        foreach (var part in parts[..^1])
        {
            if (target[part] is not JsonObject child)
            {
                child = [];
                target[part] = child;
            }
            target = child;
        }
        target[parts[^1]] = value;
    }

    /// <summary>Keeps only the given dotted fields (and id), preserving their nesting.</summary>
    public static JsonObject Project(JsonObject doc, IReadOnlyCollection<string>? onlyFields)
    {
        if (onlyFields is null || onlyFields.Count == 0)
            return doc;
        var result = new JsonObject();
        if (doc["id"] is { } id)
            result["id"] = id.DeepClone();
        foreach (var field in onlyFields)
        {
            if (Get(doc, field) is { } value)
                Set(result, field, value.DeepClone());
        }
        return result;
    }

    public static JsonNode? Clone(JsonNode? node) => node?.DeepClone();
}
