using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Domain.Serving;

/// <summary>
/// Auto-update: an endpoint's rule (model name, project, tags, published only, how many versions to keep, the new version's
/// weight) is applied by the server the moment a matching model gets its file or is published, so no one polls the
/// registry; hosts see the new version at their next configuration read and switch to it once it is ready.
/// </summary>
public sealed class ServingAutoUpdate(IDocumentStore docs, TimeProvider clock)
{
    // A Python-engine rule binds its code (and requirements) to every version it adds.
    private static readonly string[] VersionCodeFields = ["preprocess_uri", "requirements"];

    /// <summary>Adds <paramref name="model"/> as a new version of every endpoint of its tenant whose rule it matches.</summary>
    public async Task ModelChangedAsync(ModelDocument model, CancellationToken ct)
    {
        var modelId = model.Id;
        if (string.IsNullOrEmpty(modelId) || string.IsNullOrEmpty(model.Uri))
            return;
        var endpoints = await docs.FindAsync(Collection.ServingEndpoints, new DocQuery().Where(Tenants.Filter(Tenants.Of(model.Company))), ct);
        foreach (var endpoint in endpoints.Where(e => e.Body["auto_update"] is JsonObject rule && Matches(rule, model)))
        {
            await docs.UpdateAsync(Collection.ServingEndpoints, endpoint.Id, body =>
            {
                var versions = body["versions"] as JsonArray ?? [];
                if (body["auto_update"] is not JsonObject rule || versions.OfType<JsonObject>().Any(v => Json.GetString(v, "model") == modelId))
                    return;
                var number = Json.GetLong(body["next_version"]) ?? 1;
                var weight = Json.GetDouble(rule["weight"]);
                if (weight is null)
                {
                    foreach (var other in versions.OfType<JsonObject>())
                        other["weight"] = 0.0;
                }
                var added = new JsonObject
                {
                    ["version"] = number,
                    ["model"] = modelId,
                    ["engine"] = Json.GetString(rule, "engine") ?? "onnx",
                    ["inputs"] = new JsonArray(),
                    ["outputs"] = new JsonArray(),
                    ["weight"] = weight ?? 1.0,
                    ["added"] = Json.Timestamp(clock.GetUtcNow()),
                    ["auto_update"] = true,
                };
                foreach (var field in VersionCodeFields)
                {
                    if (Json.GetString(rule, field) is { Length: > 0 } value)
                        added[field] = value;
                }
                versions.Add(added);
                // The oldest versions go first; hosts drain them as they do any removed version.
                var keep = (int)Math.Max(1, Json.GetLong(rule["keep"]) ?? 2);
                while (versions.Count > keep)
                    versions.RemoveAt(0);
                if (versions.OfType<JsonObject>().Sum(v => Json.GetDouble(v["weight"]) ?? 0) <= 0 && versions.LastOrDefault() is JsonObject newest)
                    newest["weight"] = 1.0;
                body["versions"] = versions;
                body["next_version"] = number + 1;
                body["last_update"] = Json.Timestamp(clock.GetUtcNow());
            }, null, ct);
        }
    }

    private static bool Matches(JsonObject rule, ModelDocument model)
    {
        if (Json.GetString(rule, "model_name") is { Length: > 0 } name && model.Name != name)
            return false;
        if (Json.GetString(rule, "project") is { Length: > 0 } project && model.Project != project)
            return false;
        if (Json.GetBool(rule, "published") && !model.Ready)
            return false;
        var tags = model.Tags ?? [];
        return Json.GetStrings(rule, "tags").All(tags.Contains);
    }
}
