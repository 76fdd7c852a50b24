using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Client.Configuration;
using Slipway.Server.Core;

namespace Slipway.Server.Domain.Serving;

/// <summary>A version an imported endpoint serves: a registered model behind one of Slipway's engines.</summary>
public sealed record ImportedVersion(long Number, string ModelId, string Engine, string PreprocessArtifact, JsonArray Inputs, JsonArray Outputs);

/// <summary>clearml-serving's model auto-update ("model monitoring"): the models it follows and how many versions it keeps.</summary>
public sealed record ImportedMonitor(string ModelName, string ProjectName, IReadOnlyList<string> Tags, bool Published, int Keep,
    string Engine, string PreprocessArtifact);

/// <summary>A canary endpoint: weights over named endpoint versions, or over the newest versions under a prefix.</summary>
public sealed record ImportedCanary(IReadOnlyList<double> Weights, IReadOnlyList<string> Targets, string? Prefix);

/// <summary>An endpoint name the import could not take, and why.</summary>
public sealed record ImportRejection(string Name, string Reason);

/// <summary>One Slipway endpoint made from a control plane: explicit versions, an auto-update rule, or a canary; and its metric rules.</summary>
public sealed class ImportedEndpoint(string name)
{
    public string Name { get; } = name;
    public List<ImportedVersion> Versions { get; } = [];
    public ImportedMonitor? Monitor { get; set; }
    public ImportedCanary? Canary { get; set; }
    /// <summary>Metric rules by version key (<see cref="MetricRules.Key"/>).</summary>
    public JsonObject Metrics { get; } = [];
}

/// <summary>What a clearml-serving control-plane task configures, in Slipway's terms, and what it could not take.</summary>
public sealed record ControlPlaneConfig(IReadOnlyList<ImportedEndpoint> Endpoints, IReadOnlyList<ImportRejection> Rejected);

/// <summary>
/// Reads the configuration clearml-serving's CLI keeps on its "serving service" task (system tag <c>serving-control-plane</c>):
/// the configuration objects <c>endpoints</c> (url → engine, model, version, tensors, code artifact), <c>model_monitoring</c>
/// (auto-update rules), <c>canary</c> (weights over endpoints) and <c>metric_logging</c> (metric rules), written by the SDK as
/// HOCON (or JSON, which the same reader takes). An endpoint becomes a Slipway endpoint of the same name, so <c>/serve/{name}</c>
/// and <c>/serve/{name}/{version}</c> keep their meaning. Whatever cannot be served is returned as a rejection, never dropped.
/// </summary>
public static partial class ControlPlaneImport
{
    public const string SystemTag = "serving-control-plane";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    private static partial Regex NamePattern();

    private static readonly Dictionary<string, string> Datatypes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["float32"] = "FP32", ["float"] = "FP32", ["float64"] = "FP64", ["double"] = "FP64", ["float16"] = "FP16",
        ["int8"] = "INT8", ["int16"] = "INT16", ["int32"] = "INT32", ["int64"] = "INT64",
        ["uint8"] = "UINT8", ["uint16"] = "UINT16", ["uint32"] = "UINT32", ["uint64"] = "UINT64", ["bool"] = "BOOL",
    };

    public static ControlPlaneConfig Read(JsonObject task)
    {
        var rejected = new List<ImportRejection>();
        var endpoints = new Dictionary<string, ImportedEndpoint>(StringComparer.Ordinal);
        ImportedEndpoint? Endpoint(string url, string name, string what)
        {
            if (!NamePattern().IsMatch(name))
            {
                rejected.Add(new(url, $"{what} name '{name}' is not a Slipway endpoint name (letters, digits, '_', '.', '-', up to 100; no '/')"));
                return null;
            }
            if (!endpoints.TryGetValue(name, out var endpoint))
                endpoints[name] = endpoint = new ImportedEndpoint(name);
            return endpoint;
        }

        foreach (var (url, node) in Section(task, "endpoints", rejected))
        {
            if (node is not JsonObject entry)
            {
                rejected.Add(new(url, "not an object"));
                continue;
            }
            var name = (Text(entry, "serving_url") ?? url).Trim('/');
            var versionText = Text(entry, "version") ?? "";
            long number = 0;
            if (versionText.Length > 0 && (!long.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number < 1))
            {
                rejected.Add(new(url, $"version '{versionText}' is not a whole number from 1 (Slipway numbers versions)"));
                continue;
            }
            if (!Engine(url, entry, rejected, out var engine, out var artifact))
                continue;
            var modelId = Text(entry, "model_id") ?? "";
            if (modelId.Length == 0)
            {
                rejected.Add(new(url, "no model_id: Slipway serves registered models"));
                continue;
            }
            if (Endpoint(url, name, "endpoint") is not { } endpoint)
                continue;
            if (endpoint.Versions.Any(v => v.Number == number))
            {
                rejected.Add(new(url, $"endpoint '{name}' already has version {number}"));
                continue;
            }
            endpoint.Versions.Add(new ImportedVersion(number, modelId, engine, artifact, Tensors(entry, "input"), Tensors(entry, "output")));
        }

        foreach (var (key, node) in Section(task, "model_monitoring", rejected))
        {
            if (node is not JsonObject entry)
            {
                rejected.Add(new(key, "not an object"));
                continue;
            }
            var name = (Text(entry, "base_serving_url") ?? key).Trim('/');
            if (!Engine(key, entry, rejected, out var engine, out var artifact))
                continue;
            var tags = entry["monitor_tags"] is JsonArray t ? t.OfType<JsonValue>().Select(v => v.ToString()).ToList() : [];
            var monitor = new ImportedMonitor(Text(entry, "monitor_name") ?? "", Text(entry, "monitor_project") ?? "", tags,
                entry["only_published"] is JsonValue p && p.GetValueKind() == JsonValueKind.True,
                (int)Math.Clamp(Json.GetLong(entry["max_versions"]) ?? 1, 1, 100), engine, artifact);
            if (monitor.ModelName.Length == 0 && monitor.ProjectName.Length == 0 && tags.Count == 0)
            {
                rejected.Add(new(key, "an auto-update rule needs a model name, project or tags"));
                continue;
            }
            if (Endpoint(key, name, "auto-update endpoint") is not { } endpoint)
                continue;
            if (endpoint.Versions.Count > 0)
            {
                rejected.Add(new(key, $"endpoint '{name}' has versions from 'model add' and an auto-update rule; Slipway keeps the added versions"));
                continue;
            }
            endpoint.Monitor = monitor;
        }

        foreach (var (key, node) in Section(task, "canary", rejected))
        {
            if (node is not JsonObject entry)
            {
                rejected.Add(new(key, "not an object"));
                continue;
            }
            var name = (Text(entry, "endpoint") ?? key).Trim('/');
            var weights = (entry["weights"] as JsonArray ?? []).Select(Json.GetDouble).ToList();
            var targets = entry["load_endpoints"] is JsonArray l ? l.OfType<JsonValue>().Select(v => v.ToString().Trim('/')).ToList() : [];
            var prefix = Text(entry, "load_endpoint_prefix") is { Length: > 0 } given ? given : null;
            if (weights.Count == 0 || weights.Any(w => w is not { } x || !double.IsFinite(x) || x < 0) || weights.Sum() <= 0)
            {
                rejected.Add(new(key, "canary weights must be numbers of at least 0, not all 0"));
                continue;
            }
            if ((prefix is null) == (targets.Count == 0))
            {
                rejected.Add(new(key, "a canary names either its endpoints or a prefix, not both or neither"));
                continue;
            }
            if (targets.Count > 0 && targets.Count != weights.Count)
            {
                rejected.Add(new(key, $"{weights.Count} weights for {targets.Count} endpoints"));
                continue;
            }
            if (endpoints.ContainsKey(name))
            {
                rejected.Add(new(key, $"canary name '{name}' is already an endpoint of this service"));
                continue;
            }
            if (Endpoint(key, name, "canary endpoint") is { } endpoint)
                endpoint.Canary = new ImportedCanary(weights.Select(w => w!.Value).ToList(), targets, prefix);
        }

        foreach (var (key, node) in Section(task, "metric_logging", rejected))
        {
            if (node is not JsonObject entry)
            {
                rejected.Add(new(key, "not an object"));
                continue;
            }
            var target = (Text(entry, "endpoint") ?? key).Trim('/');
            var slash = target.LastIndexOf('/');
            var name = slash < 0 ? target : target[..slash];
            var versionText = slash < 0 ? "" : target[(slash + 1)..];
            long? version = versionText switch
            {
                "*" => null,
                "" => 0,
                _ when long.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out var n) => n,
                _ => -1,
            };
            if (version == -1 || !endpoints.TryGetValue(name, out var endpoint))
            {
                rejected.Add(new(key, $"metric rules for '{target}': no imported endpoint version by that name (use 'name/N' or 'name/*')"));
                continue;
            }
            try
            {
                endpoint.Metrics[MetricRules.Key(version)] = MetricRules.Rule(Json.GetDouble(entry["log_frequency"]), entry["metrics"] as JsonObject ?? []);
            }
            catch (ApiException e)
            {
                rejected.Add(new(key, e.Message));
            }
        }
        return new ControlPlaneConfig([.. endpoints.Values], rejected);
    }

    /// <summary>A configuration object of the task, parsed (HOCON or JSON), as name → entry; a section that does not parse is a rejection.</summary>
    private static IEnumerable<KeyValuePair<string, JsonNode?>> Section(JsonObject task, string name, List<ImportRejection> rejected)
    {
        if (task["configuration"] is not JsonObject configuration || configuration[name] is not JsonObject item
            || item["value"] is not JsonValue value || value.GetValueKind() != JsonValueKind.String || value.GetValue<string>() is not { Length: > 0 } text)
            return [];
        try
        {
            return Hocon.Parse(text, $"configuration object '{name}'").ToList();
        }
        catch (FormatException e)
        {
            rejected.Add(new($"({name})", e.Message));
            return [];
        }
    }

    /// <summary>clearml-serving's engines in Slipway: Triton serves ONNX models in process; the Python engines run the Preprocess class.</summary>
    private static bool Engine(string url, JsonObject entry, List<ImportRejection> rejected, out string engine, out string artifact)
    {
        var given = Text(entry, "engine_type") ?? "";
        artifact = Text(entry, "preprocess_artifact") ?? "";
        switch (given)
        {
            case "triton":
                engine = "onnx";
                return true;
            case "sklearn" or "xgboost" or "lightgbm" or "custom" or "custom_async":
                engine = "python";
                if (artifact.Length > 0)
                    return true;
                rejected.Add(new(url, $"engine '{given}' without --preprocess code: Slipway's Python engine runs the endpoint's Preprocess class"));
                return false;
            default:
                engine = "";
                rejected.Add(new(url, $"engine '{given}' is not served by Slipway (triton for ONNX models; sklearn, xgboost, lightgbm, custom with preprocess code)"));
                return false;
        }
    }

    /// <summary>clearml-serving's input_name/input_type/input_size lists as V2 tensor descriptions.</summary>
    private static JsonArray Tensors(JsonObject entry, string side)
    {
        var names = entry[$"{side}_name"] as JsonArray ?? [];
        var types = entry[$"{side}_type"] as JsonArray ?? [];
        var sizes = entry[$"{side}_size"] as JsonArray ?? [];
        var result = new JsonArray();
        for (var i = 0; i < names.Count; i++)
        {
            var type = i < types.Count && types[i] is JsonValue t ? t.ToString() : "float32";
            var shape = i < sizes.Count && sizes[i] is JsonArray dims
                ? new JsonArray(dims.Select(d => (JsonNode)Math.Max(-1, Json.GetLong(d) ?? -1)).ToArray())
                : [];
            result.Add(new JsonObject
            {
                ["name"] = names[i]?.ToString() ?? "",
                ["datatype"] = Datatypes.GetValueOrDefault(type, "FP32"),
                ["shape"] = shape,
            });
        }
        return result;
    }

    private static string? Text(JsonObject entry, string key) =>
        entry[key] is JsonValue v && v.GetValueKind() is JsonValueKind.String or JsonValueKind.Number ? v.ToString() : null;
}
