using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Domain.Serving;

namespace Slipway.Server.Api;

// serving.set_metric / remove_metric (user-defined metric rules, clearml-serving's `metrics add|remove`) and the control-plane imports.
public sealed partial class ServingApi
{
    /// <summary>
    /// Adds or replaces variables of the metric rule of one version (<c>version</c>) or of every version (none given):
    /// <c>variables: {name: {type: scalar|enum|value|counter, buckets}}</c>, and <c>log_frequency</c> (0 to 1, the share of
    /// requests measured; default 1). Variables already in the rule and not named stay.
    /// </summary>
    private async ValueTask<JsonNode?> SetMetric(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var version = call.Long("version");
        var variables = call.Object("variables") ?? throw ApiException.MissingField("variables");
        double? frequency = null;
        if (call.Has("log_frequency"))
            frequency = Json.GetDouble(call.Body["log_frequency"]) ?? throw ApiException.Validation("log_frequency must be a number between 0 and 1");
        var given = MetricRules.Rule(frequency, variables);
        await ChangeAsync(call, id, body =>
        {
            RefuseImported(body, "change the metric rules of");
            RequireVersion(body, id, version);
            var metrics = body["metrics"] as JsonObject ?? [];
            var key = MetricRules.Key(version);
            var rule = metrics[key] as JsonObject ?? new JsonObject { ["variables"] = new JsonObject() };
            var merged = rule["variables"] as JsonObject ?? [];
            foreach (var (name, variable) in (JsonObject)given["variables"]!)
                merged[name] = variable!.DeepClone();
            rule["variables"] = merged;
            if (given["log_frequency"] is { } newFrequency)
                rule["log_frequency"] = newFrequency.DeepClone();
            metrics[key] = rule;
            body["metrics"] = metrics;
        });
        return new JsonObject { ["updated"] = 1 };
    }

    /// <summary>Removes the named <c>variables</c> from a rule, or the whole rule of that version (or of <c>*</c>) when none are named.</summary>
    private async ValueTask<JsonNode?> RemoveMetric(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var version = call.Long("version");
        var names = call.StringList("variables") ?? [];
        var removed = 0;
        await ChangeAsync(call, id, body =>
        {
            RefuseImported(body, "change the metric rules of");
            var key = MetricRules.Key(version);
            if ((body["metrics"] as JsonObject)?[key] is not JsonObject rule)
                throw ApiException.Validation($"endpoint {id} has no metric rule for {(version is null ? "all versions" : $"version {version}")}");
            var metrics = (JsonObject)body["metrics"]!;
            if (names.Count == 0)
            {
                removed = (rule["variables"] as JsonObject)?.Count ?? 0;
                metrics.Remove(key);
            }
            else
            {
                var variables = rule["variables"] as JsonObject ?? [];
                foreach (var name in names)
                {
                    if (!variables.Remove(name))
                        throw ApiException.Validation($"the metric rule has no variable '{name}'");
                    removed++;
                }
                if (variables.Count == 0)
                    metrics.Remove(key);
            }
            if (metrics.Count == 0)
                body.Remove("metrics");
        });
        return new JsonObject { ["removed"] = removed };
    }

    private static void RequireVersion(JsonObject endpoint, string id, long? version)
    {
        if (version is { } number && !(endpoint["versions"] as JsonArray ?? []).OfType<JsonObject>().Any(v => Json.GetLong(v["version"]) == number))
            throw ApiException.Validation($"endpoint {id} has no version {number}");
    }

    /// <summary>The tenant's clearml-serving control planes as last imported: the endpoints each made and the names it could not take.</summary>
    private async ValueTask<JsonNode?> GetControlPlanes(RpcCall call)
    {
        await controlPlanes.SyncAsync(call.Caller.Company, call.Aborted);
        return new JsonObject
        {
            ["control_planes"] = new JsonArray(controlPlanes.Reports(call.Caller.Company).Select(r =>
            {
                var copy = (JsonObject)r.DeepClone();
                copy.Remove("company");
                return (JsonNode)copy;
            }).ToArray()),
        };
    }
}
