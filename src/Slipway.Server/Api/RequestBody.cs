using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Api;

/// <summary>Decodes a request body the way the reference server does: JSON, json-lines, or empty, with the query string merged in.</summary>
public static class RequestBody
{
    // A repeated key would leave the handler and the stored document to disagree on which value counts.
    public static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };
    public static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };

    public static JsonObject ParseObject(ReadOnlySpan<byte> bytes)
    {
        if (IsBlank(bytes))
            return [];
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(bytes, NodeOptions, ParseOptions);
        }
        catch (JsonException e)
        {
            throw ApiException.Validation($"invalid JSON body: {Clean(e.Message)}");
        }
        catch (InvalidOperationException)
        {
            // Checking for repeated keys decodes every property name, and an unpaired surrogate escape cannot be decoded.
            throw ApiException.Validation("a property name in the body contains a lone UTF-16 surrogate");
        }
        return node as JsonObject ?? throw ApiException.Validation("the request body must be a JSON object");
    }

    /// <summary>Splits a json-lines body at line breaks, skipping blank lines; the lines are parsed by their consumer.</summary>
    public static List<ReadOnlyMemory<byte>> SplitLines(ReadOnlyMemory<byte> body)
    {
        var lines = new List<ReadOnlyMemory<byte>>();
        var rest = body;
        while (!rest.IsEmpty)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + 1)..];
            if (!IsBlank(line.Span))
                lines.Add(line);
        }
        return lines;
    }

    /// <summary>Refuses strings the stores cannot hold (NUL, lone surrogates) anywhere in the body, naming the field.</summary>
    public static void CheckText(JsonObject body) => Domain.StorableText.CheckTree(body, "");

    /// <summary>Merges query-string parameters into the body: dotted keys nest, "true"/"false" and numbers get their types, repeated or "[]" keys become lists.</summary>
    public static void MergeQuery(JsonObject body, IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> query)
    {
        foreach (var (rawKey, values) in query)
        {
            var isList = rawKey.EndsWith("[]", StringComparison.Ordinal) || values.Count > 1;
            var key = rawKey.EndsWith("[]", StringComparison.Ordinal) ? rawKey[..^2] : rawKey;
            if (key.Length == 0)
                continue;
            JsonNode value = isList
                ? new JsonArray(values.Select(v => Typed(v ?? "")).ToArray())
                : Typed(values.ToString());
            Core.Json.Set(body, key, value);
        }
    }

    private static JsonNode Typed(string text)
    {
        if (text.Equals("true", StringComparison.OrdinalIgnoreCase))
            return JsonValue.Create(true);
        if (text.Equals("false", StringComparison.OrdinalIgnoreCase))
            return JsonValue.Create(false);
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
            return JsonValue.Create(l);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
            return JsonValue.Create(d);
        return JsonValue.Create(text);
    }

    private static bool IsBlank(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept(" \t\r\n"u8) < 0;

    // System.Text.Json messages name .NET paths and types; keep the position, which helps the caller.
    private static string Clean(string message) => message.Replace(" Path: $", " at $", StringComparison.Ordinal);
}
