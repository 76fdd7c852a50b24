using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client;

/// <summary>Tolerant readers for the server's JSON: a missing or differently typed field reads as null.</summary>
internal static class JsonRead
{
    public static JsonNode? At(this JsonNode? node, string dottedPath)
    {
        foreach (var part in dottedPath.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(part, out var child) ? child : null;
        return node;
    }

    public static string? Str(this JsonNode? node, string path) => node.At(path) switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.ToJsonString(),
        _ => null,
    };

    public static long? Long(this JsonNode? node, string path) => node.At(path) switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.TryGetValue<long>(out var l) ? l : (long)v.GetValue<double>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String && long.TryParse(v.GetValue<string>(), CultureInfo.InvariantCulture, out var l) => l,
        _ => null,
    };

    public static double? Double(this JsonNode? node, string path) => node.At(path) is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    public static bool? Bool(this JsonNode? node, string path) => node.At(path) is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    public static DateTimeOffset? Time(this JsonNode? node, string path) =>
        node.Str(path) is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    public static IReadOnlyList<string> Strings(this JsonNode? node, string path) =>
        node.At(path) is JsonArray a ? a.Select(x => x is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null).OfType<string>().ToList() : [];

    public static JsonArray ToJsonArray(this IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    /// <summary>An anchored, escaped regular expression matching exactly this name (the API filters names by regex).</summary>
    public static string ExactName(string name) => "^" + System.Text.RegularExpressions.Regex.Escape(name) + "$";
}
