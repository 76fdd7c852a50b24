using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Domain.Serving;

/// <summary>
/// User-defined metrics of an endpoint (clearml-serving's <c>metrics add</c>): for one version, or <c>*</c> for all, a sampling
/// frequency and per variable a type: <c>scalar</c> (a histogram over numeric buckets), <c>enum</c> (a count per listed value),
/// <c>value</c> (the last value) or <c>counter</c> (a sum). Hosts read the variables from the request's and the answer's JSON
/// objects and from what Preprocess code collects. Stored on the endpoint as <c>metrics: {"*" | "N": rule}</c>.
/// </summary>
public static class MetricRules
{
    public static readonly string[] Types = ["scalar", "enum", "value", "counter"];
    private const int MaxVariables = 64;
    private const int MaxBuckets = 256;

    /// <summary>The key a rule is stored under: a version number, or <c>*</c> for every version.</summary>
    public static string Key(long? version) => version is { } v ? v.ToString(CultureInfo.InvariantCulture) : "*";

    /// <summary>A checked rule: <c>{log_frequency, variables: {name: {type, buckets}}}</c>.</summary>
    /// <exception cref="ApiException">A validation error naming what is wrong.</exception>
    public static JsonObject Rule(double? logFrequency, JsonObject variables)
    {
        if (logFrequency is { } f && (!double.IsFinite(f) || f < 0 || f > 1))
            throw ApiException.Validation("log_frequency must be between 0 and 1 (the share of requests measured)");
        if (variables.Count > MaxVariables)
            throw ApiException.Validation($"at most {MaxVariables} variables per rule");
        var checkedVariables = new JsonObject();
        foreach (var (name, node) in variables)
        {
            if (name.Length is 0 or > 100 || name.Any(char.IsControl))
                throw ApiException.Validation($"variable name '{name}' must be 1 to 100 printable characters");
            if (node is not JsonObject variable)
                throw ApiException.Validation($"variables.{name} must be an object: {{type, buckets}}");
            var type = variable["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null;
            if (type is null || !Types.Contains(type))
                throw ApiException.Validation($"variables.{name}.type must be one of {string.Join(", ", Types)}");
            checkedVariables[name] = new JsonObject { ["type"] = type, ["buckets"] = Buckets(name, type, variable["buckets"]) };
        }
        var rule = new JsonObject { ["variables"] = checkedVariables };
        if (logFrequency is { } frequency)
            rule["log_frequency"] = frequency;
        return rule;
    }

    private static JsonArray Buckets(string name, string type, JsonNode? node)
    {
        var given = node as JsonArray ?? [];
        if (node is not null and not JsonArray)
            throw ApiException.Validation($"variables.{name}.buckets must be a list");
        if (given.Count > MaxBuckets)
            throw ApiException.Validation($"variables.{name}: at most {MaxBuckets} buckets");
        switch (type)
        {
            case "scalar":
            {
                var bounds = new List<double>();
                foreach (var b in given)
                {
                    if (Json.GetDouble(b) is not { } bound || !double.IsFinite(bound))
                        throw ApiException.Validation($"variables.{name}.buckets: a scalar's buckets are numbers");
                    bounds.Add(bound);
                }
                if (bounds.Count == 0)
                    throw ApiException.Validation($"variables.{name}: a scalar needs its bucket bounds (e.g. 0,0.5,1)");
                return new JsonArray(bounds.Distinct().Order().Select(b => (JsonNode)b).ToArray());
            }
            case "enum":
            {
                var values = given.Select(b => b is JsonValue v ? v.ToString() : null).ToList();
                if (values.Count == 0 || values.Any(v => v is null or { Length: 0 or > 200 }))
                    throw ApiException.Validation($"variables.{name}: an enum needs its values (e.g. cat,dog), each up to 200 characters");
                return new JsonArray(values.Distinct(StringComparer.Ordinal).Select(v => (JsonNode)v!).ToArray());
            }
            default:
                // value and counter take no buckets (clearml-serving stores null or []).
                return [];
        }
    }

    /// <summary>The rule a version follows: its own, else the endpoint's <c>*</c> rule, else none.</summary>
    public static JsonObject? For(JsonObject? metrics, long version) =>
        metrics?[Key(version)] as JsonObject ?? metrics?["*"] as JsonObject;
}
