using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Slipway.Autoscaler;

/// <summary>
/// How many of a resource's instances may be drained or terminated for idleness at once: a count (<c>2</c>) or a share of its
/// live instances (<c>"20%"</c>, rounded up, as Kubernetes rounds a PodDisruptionBudget's percentage). What the file says is
/// kept as written, and <see cref="Problem"/> names what is wrong with it, so that the configuration's check reports it with
/// the others instead of failing the whole parse on the first.
/// </summary>
[JsonConverter(typeof(DisruptionBudgetConverter))]
public sealed record DisruptionBudget
{
    public int? Count { get; private init; }

    public double? Percent { get; private init; }

    /// <summary>The value as the file wrote it (for messages and for writing the file back).</summary>
    public string Text { get; private init; } = "";

    /// <summary>Why the value cannot be used; null when it can.</summary>
    public string? Problem { get; private init; }

    public static DisruptionBudget FromCount(int count) => count < 0
        ? Invalid(count.ToString(CultureInfo.InvariantCulture), $"{count} is negative; use a count of 0 or more, or a percentage such as \"20%\"")
        : new() { Count = count, Text = count.ToString(CultureInfo.InvariantCulture) };

    internal static DisruptionBudget Invalid(string text, string problem) => new() { Text = text, Problem = problem };

    public static DisruptionBudget Parse(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.EndsWith('%'))
        {
            if (!double.TryParse(trimmed[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) || !double.IsFinite(percent))
                return Invalid(text, $"\"{text}\" is not a percentage such as \"20%\"");
            if (percent < 0)
                return Invalid(text, $"\"{text}\" is negative; use 0% to 100%");
            if (percent > 100)
                return Invalid(text, $"\"{text}\" is more than 100%");
            return new() { Percent = percent, Text = text };
        }
        if (double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            return Invalid(text, $"\"{text}\" is a number in quotes; write {trimmed} for a count, or \"{trimmed}%\" for a percentage");
        return Invalid(text, $"\"{text}\" is neither a count (such as 2) nor a percentage (such as \"20%\")");
    }

    /// <summary>How many of <paramref name="instances"/> live instances may be disrupted at once.</summary>
    public int Allowed(int instances) => Count ?? (int)Math.Ceiling(instances * (Percent ?? 100) / 100 - 1e-9);
}

/// <summary>Reads a whole number or a string; anything else becomes a <see cref="DisruptionBudget"/> with its problem named.</summary>
internal sealed class DisruptionBudgetConverter : JsonConverter<DisruptionBudget>
{
    public override DisruptionBudget Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number when reader.TryGetInt32(out var count):
                return DisruptionBudget.FromCount(count);
            case JsonTokenType.Number:
                var number = reader.GetDouble().ToString(CultureInfo.InvariantCulture);
                return DisruptionBudget.Invalid(number, $"{number} is not a whole number of instances");
            case JsonTokenType.String:
                return DisruptionBudget.Parse(reader.GetString() ?? "");
            default:
                var token = reader.TokenType;
                reader.Skip();
                return DisruptionBudget.Invalid("", $"{(token is JsonTokenType.StartObject ? "an object" : token is JsonTokenType.StartArray ? "a list" : token.ToString().ToLowerInvariant())} is neither a count (such as 2) nor a percentage (such as \"20%\")");
        }
    }

    public override void Write(Utf8JsonWriter writer, DisruptionBudget value, JsonSerializerOptions options)
    {
        if (value.Count is { } count)
            writer.WriteNumberValue(count);
        else
            writer.WriteStringValue(value.Text);
    }
}
