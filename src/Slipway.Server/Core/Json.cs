using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Server.Core;

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
        new(Sorted(values).Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());

    /// <summary>Tags as they are stored: distinct, in ordinal order.</summary>
    public static List<string> Sorted(IEnumerable<string> values) =>
        values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

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

    /// <summary>
    /// Keeps only the given dotted fields (and id), preserving their nesting. As in the reference server's
    /// database, the objects on a path are kept even when its end is missing ("runtime.version" of a task
    /// with an empty runtime gives runtime: {}), since clients read the parent.
    /// </summary>
    public static JsonObject Project(JsonObject doc, IReadOnlyCollection<string>? onlyFields)
    {
        if (onlyFields is null || onlyFields.Count == 0)
            return doc;
        var result = new JsonObject();
        if (doc["id"] is { } id)
            result["id"] = id.DeepClone();
        foreach (var field in onlyFields)
        {
            var segments = field.Split('.');
            JsonObject source = doc, target = result;
            for (var i = 0; i < segments.Length; i++)
            {
                if (!source.TryGetPropertyValue(segments[i], out var value))
                    break;
                if (i == segments.Length - 1 || value is not JsonObject child)
                {
                    target[segments[i]] = value?.DeepClone();
                    break;
                }
                if (target[segments[i]] is not JsonObject next)
                    target[segments[i]] = next = [];
                (source, target) = (child, next);
            }
        }
        return result;
    }

    public static JsonNode? Clone(JsonNode? node) => node?.DeepClone();
}
