using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Api;

/// <summary>One API call: the endpoint, the decoded body and the caller. Field readers check JSON types.</summary>
public sealed class RpcCall
{
    public RpcCall(string endpoint, string? requestedVersion, JsonObject body, Identity? identity, string? worker, CancellationToken aborted)
    {
        Endpoint = endpoint;
        RequestedVersion = requestedVersion;
        Body = body;
        Identity = identity;
        Worker = worker;
        Aborted = aborted;
    }

    public string Endpoint { get; }
    public string? RequestedVersion { get; }
    public JsonObject Body { get; }
    /// <summary>The raw lines of a json-lines batch (events.add_batch); null for a plain JSON body.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>>? Lines { get; init; }
    public Identity? Identity { get; }
    /// <summary>The caller's address, as workers report it.</summary>
    public string? RemoteIp { get; init; }

    /// <summary>The raw Authorization header, for auth.login's Basic credentials.</summary>
    public string? AuthorizationHeader { get; init; }
    public string? Worker { get; }
    public CancellationToken Aborted { get; }

    public Identity Caller => Identity ?? throw ApiException.NoCredentials();

    public bool Has(string field) => Body.TryGetPropertyValue(field, out var node) && node is not null;

    public string RequireString(string field) =>
        String(field) is { Length: > 0 } value ? value : throw ApiException.MissingField(field);

    public string? String(string field) => Body.TryGetPropertyValue(field, out var node) ? AsString(node, field) : null;

    public bool Bool(string field, bool fallback = false)
    {
        if (!Body.TryGetPropertyValue(field, out var node) || node is null)
            return fallback;
        if (node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            return v.GetValue<bool>();
        throw ApiException.Validation($"field '{field}' must be a boolean");
    }

    public long? Long(string field)
    {
        if (!Body.TryGetPropertyValue(field, out var node) || node is null)
            return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long l))
            return l;
        if (node is JsonValue d && d.GetValueKind() == JsonValueKind.Number && d.TryGetValue(out double x) && x == Math.Floor(x) && Math.Abs(x) < 9e15)
            return (long)x;
        throw ApiException.Validation($"field '{field}' must be an integer");
    }

    public int? Int(string field) => Long(field) is { } l
        ? l is >= int.MinValue and <= int.MaxValue ? (int)l : throw ApiException.Validation($"field '{field}' is out of range")
        : null;

    /// <summary>A list of strings; a single string is accepted as a one-element list, as the reference server does.</summary>
    public List<string>? StringList(string field) =>
        Body.TryGetPropertyValue(field, out var node) ? AsStringList(node, field) : null;

    /// <summary>A list that may hold nulls (tag filters use null for "empty").</summary>
    public List<string?>? NullableStringList(string field)
    {
        if (!Body.TryGetPropertyValue(field, out var node) || node is null)
            return null;
        if (node is JsonValue)
            return [AsString(node, field)];
        if (node is not JsonArray array)
            throw ApiException.Validation($"field '{field}' must be a list of strings");
        RequestLimits.CheckCount(field, array.Count);
        return array.Select(item => item is null ? null : AsString(item, field)).ToList();
    }

    public JsonObject? Object(string field)
    {
        if (!Body.TryGetPropertyValue(field, out var node) || node is null)
            return null;
        return node as JsonObject ?? throw ApiException.Validation($"field '{field}' must be an object");
    }

    public JsonArray? Array(string field)
    {
        if (!Body.TryGetPropertyValue(field, out var node) || node is null)
            return null;
        var array = node as JsonArray ?? throw ApiException.Validation($"field '{field}' must be a list");
        RequestLimits.CheckCount(field, array.Count);
        return array;
    }

    public static string? AsString(JsonNode? node, string field)
    {
        if (node is null)
            return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            return v.GetValue<string>();
        throw ApiException.Validation($"field '{field}' must be a string");
    }

    public static List<string>? AsStringList(JsonNode? node, string field)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonValue:
                return [AsString(node, field)!];
            case JsonArray array:
                RequestLimits.CheckCount(field, array.Count);
                var list = new List<string>(array.Count);
                foreach (var item in array)
                    list.Add(AsString(item, field) ?? throw ApiException.Validation($"field '{field}' must not contain null"));
                return list;
            default:
                throw ApiException.Validation($"field '{field}' must be a list of strings");
        }
    }
}
