using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Domain;

/// <summary>
/// Text both stores can hold. PostgreSQL's text and jsonb cannot hold U+0000, and a lone UTF-16 surrogate has no
/// UTF-8 form (SQLite would keep a replacement or broken bytes), so either would fail a write or change the data:
/// such strings are refused with the field's name before anything is stored.
/// </summary>
public static class StorableText
{
    /// <summary>Why the text cannot be stored, or null when it can.</summary>
    public static string? Problem(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
                return "contains a NUL character (\\u0000)";
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(c))
                return "contains a lone UTF-16 surrogate";
        }
        return null;
    }

    public static void Check(string text, string field)
    {
        if (Problem(text) is { } problem)
            throw ApiException.Validation($"field '{field}' {problem}");
    }

    /// <summary>Checks every string and property name under <paramref name="node"/>; the error names the first bad one's path.</summary>
    public static void CheckTree(JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                List<KeyValuePair<string, JsonNode?>> properties;
                try
                {
                    properties = [.. obj];
                }
                catch (InvalidOperationException)
                {
                    // Decoding the property names failed on an unpaired surrogate escape.
                    throw ApiException.Validation($"field '{(path.Length == 0 ? "(body)" : path)}' has a property name with a lone UTF-16 surrogate");
                }
                foreach (var (key, value) in properties)
                {
                    var child = path.Length == 0 ? key : $"{path}.{key}";
                    Check(key, child);
                    CheckTree(value, child);
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                    CheckTree(array[i], $"{path}[{i}]");
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                string text;
                try
                {
                    text = value.GetValue<string>();
                }
                catch (InvalidOperationException)
                {
                    // The parser keeps escapes such as "\ud800" as given and refuses to decode an unpaired one.
                    throw ApiException.Validation($"field '{path}' contains a lone UTF-16 surrogate");
                }
                Check(text, path);
                break;
        }
    }
}
