using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Events;

/// <summary>One parsed event: a scalar (kept compact) or another type (kept as its normalized document).</summary>
/// <param name="ForModel">A model's event (model_event: true): the task field holds the model's id.</param>
public readonly record struct ParsedEvent(ScalarEvent? Scalar, StoredEvent? Other, bool ForModel = false)
{
    public string Task => Scalar?.Task ?? Other!.Task;
}

/// <summary>
/// Parses and normalizes events per the reference ingestion rules: missing metric/variant become "",
/// timestamp and worker are filled in, iter becomes an integer, non-log events get a deterministic id.
/// Scalars are read straight from the bytes, since they are nearly all of the volume.
/// </summary>
public static class EventParser
{
    public const string Scalar = "training_stats_scalar";
    public const string Log = "log";
    public static readonly IReadOnlySet<string> Types = new HashSet<string> { Scalar, "training_stats_vector", "training_debug_image", "plot", Log };

    /// <summary>Parses one event; a bad one throws <see cref="ApiException"/> with the reason, which the batch counts as an error.</summary>
    public static ParsedEvent Parse(ReadOnlySpan<byte> json, string? worker, long nowMs, Names? names = null)
    {
        names ??= new Names();
        // Python's json writes NaN and Infinity for non-finite floats; they are stored as null (a gap in the chart).
        if (json.IndexOf("NaN"u8) >= 0 || json.IndexOf("Infinity"u8) >= 0)
            json = WithoutNonFiniteLiterals(json);
        string? type = null, task = null, metric = null, variant = null;
        long iter = 0, timestamp = 0;
        double? value = null;
        var valueSeen = false;
        var forModel = false;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw ApiException.Validation("an event must be a JSON object");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8)) type = names.Read(ref reader, "type");
                else if (reader.ValueTextEquals("task"u8)) task = names.Read(ref reader, "task");
                else if (reader.ValueTextEquals("metric"u8)) metric = names.Read(ref reader, "metric");
                else if (reader.ValueTextEquals("variant"u8)) variant = names.Read(ref reader, "variant");
                else if (reader.ValueTextEquals("iter"u8)) iter = ReadLong(ref reader, "iter");
                else if (reader.ValueTextEquals("timestamp"u8)) timestamp = ReadLong(ref reader, "timestamp");
                else if (reader.ValueTextEquals("model_event"u8))
                {
                    reader.Read();
                    forModel = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("value"u8))
                {
                    reader.Read();
                    valueSeen = true;
                    value = reader.TokenType switch
                    {
                        JsonTokenType.Number => reader.GetDouble(),
                        JsonTokenType.Null => null,
                        _ => throw ApiException.Validation("field 'value' must be a number"),
                    };
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException e)
        {
            throw ApiException.Validation($"invalid event JSON: {e.Message}");
        }
        if (type is null || !Types.Contains(type))
            throw ApiException.Validation($"unknown event type '{type}'");
        if (string.IsNullOrEmpty(task))
            throw ApiException.MissingField("task");
        metric ??= "";
        variant ??= "";
        if (timestamp == 0)
            timestamp = nowMs;
        if (type == Scalar)
        {
            if (!valueSeen)
                throw ApiException.MissingField("value");
            return new ParsedEvent(new ScalarEvent(task, metric, variant, new ScalarPoint(iter, value, timestamp)), null, forModel);
        }

        JsonObject doc;
        try
        {
            doc = (JsonObject)JsonNode.Parse(json)!;
        }
        catch (JsonException e)
        {
            throw ApiException.Validation($"invalid event JSON: {e.Message}");
        }
        StorableText.CheckTree(doc, "");
        doc.Remove("allow_locked");
        doc["metric"] = metric;
        doc["variant"] = variant;
        doc["iter"] = iter;
        doc["timestamp"] = timestamp;
        if (type == Log && (doc["worker"] is null) && worker is not null)
            doc["worker"] = worker;
        var eventId = type == Log ? null : Id(task, iter, metric, variant, doc["key"] is JsonValue k && k.TryGetValue(out string? key) ? key : "");
        return new ParsedEvent(null, new StoredEvent(task, type, eventId, iter, metric, variant, timestamp, doc.ToJsonString()), forModel);
    }

    /// <summary>Replaces NaN, Infinity and -Infinity outside strings with null.</summary>
    private static byte[] WithoutNonFiniteLiterals(ReadOnlySpan<byte> json)
    {
        var output = new List<byte>(json.Length);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                output.Add(c);
                if (c == '\\' && i + 1 < json.Length)
                    output.Add(json[++i]);
                else if (c == '"')
                    inString = false;
                continue;
            }
            if (c == '"')
                inString = true;
            var rest = json[i..];
            var literal = rest.StartsWith("NaN"u8) ? 3 : rest.StartsWith("Infinity"u8) ? 8 : rest.StartsWith("-Infinity"u8) ? 9 : 0;
            if (literal > 0)
            {
                output.AddRange("null"u8);
                i += literal - 1;
                continue;
            }
            output.Add(c);
        }
        return [.. output];
    }

#pragma warning disable CA5351 // MD5 names things as ClearML does (ids and keys the clients compute too); it guards nothing.
    public static string Id(string task, long iter, string metric, string variant, string key) =>
        Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes($"{task}\u0000{iter}\u0000{metric}\u0000{variant}\u0000{key}")));
#pragma warning restore CA5351

    /// <summary>
    /// The strings of one batch's events: a batch repeats a few task ids, metric and variant names thousands
    /// of times, so each is made once and found again by its bytes.
    /// </summary>
    public sealed class Names
    {
        private readonly List<(byte[] Bytes, string Text)> _recent = [];

        public string? Read(ref Utf8JsonReader reader, string field)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null)
                return null;
            if (reader.TokenType != JsonTokenType.String)
                throw ApiException.Validation($"field '{field}' must be a string");
            if (reader.ValueIsEscaped || reader.HasValueSequence)
                return Decode(ref reader, field);
            var bytes = reader.ValueSpan;
            foreach (var (known, text) in _recent)
            {
                if (bytes.SequenceEqual(known))
                    return text;
            }
            var value = Decode(ref reader, field);
            if (_recent.Count < 64)
                _recent.Add((bytes.ToArray(), value));
            return value;
        }
    }

    // An escape such as "\u0000" or an unpaired "\ud800" makes a string no store can hold: that event's error.
    private static string Decode(ref Utf8JsonReader reader, string field)
    {
        string text;
        try
        {
            text = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw ApiException.Validation($"field '{field}' contains a lone UTF-16 surrogate");
        }
        StorableText.Check(text, field);
        return text;
    }

    private static long ReadLong(ref Utf8JsonReader reader, string field)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
            return 0;
        if (reader.TokenType == JsonTokenType.String && Utf8Parser.TryParse(reader.ValueSpan, out long fromText, out _))
            return fromText;
        if (reader.TokenType != JsonTokenType.Number)
            throw ApiException.Validation($"field '{field}' must be an integer");
        if (reader.TryGetInt64(out var l))
            return l;
        var d = reader.GetDouble();
        return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)d : throw ApiException.Validation($"field '{field}' is out of range");
    }
}
