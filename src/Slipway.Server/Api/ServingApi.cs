using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Serving;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;
using CultureInfo = System.Globalization.CultureInfo;
using NumberStyles = System.Globalization.NumberStyles;

namespace Slipway.Server.Api;

/// <summary>
/// serving.*: inference endpoints kept as data. An endpoint has versions (each bound to a registered model and an engine),
/// canary weights across them, a public flag and its own keys, of which only a hash is stored. Inference hosts read their
/// configuration here (get_host_config), register and report what they loaded and what they served (register_container,
/// container_status_report, the reference server's names), and the statistics come back through get_endpoints and
/// get_endpoint_metrics_history.
/// </summary>
public sealed partial class ServingApi(IDocumentStore docs, AccessControl access, ControlPlaneSync controlPlanes, TimeProvider clock)
{
    public const string KeyPrefix = "slw_";
    private static readonly string[] Engines = ["onnx", "python"];
    private static readonly string[] Datatypes = ["BOOL", "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "UINT64", "INT64", "FP16", "FP32", "FP64"];
    // A host's own figures (slipway serve's machine_stats), charted per host; the GPU ones only from hosts that have GPUs.
    // Declared before MetricTypes, which static initialisation reads it into.
    private static readonly string[] MachineMetrics = ["cpu_usage", "memory_used_gb", "memory_free_gb", "gpu_count", "gpu_usage", "gpu_memory_used_gb", "gpu_memory_total_gb"];
    private static readonly string[] MetricTypes = ["requests", "requests_min", "errors", "latency_ms", .. MachineMetrics];
    private const string EndpointFields = "name public max_request_bytes max_batch_size max_queue_delay_ms sticky_header request_log";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")]
    private static partial Regex HeaderPattern();

    public void Map(RpcRouter router)
    {
        router.Add("serving.create_endpoint", CreateEndpoint, EndpointFields);
        router.Add("serving.update_endpoint", UpdateEndpoint, "endpoint " + EndpointFields);
        router.Add("serving.delete_endpoint", DeleteEndpoint, "endpoint");
        router.Add("serving.get_endpoint", GetEndpoint, "endpoint");
        router.Add("serving.get_endpoints", GetEndpoints, "name");
        router.Add("serving.add_version", AddVersion, "endpoint model engine inputs outputs weight preprocess_uri requirements");
        router.Add("serving.remove_version", RemoveVersion, "endpoint version");
        router.Add("serving.set_canary", SetCanary, "endpoint weights");
        router.Add("serving.set_shadow", SetShadow, "endpoint version share");
        router.Add("serving.set_auto_update", SetAutoUpdate, "endpoint model_name project tags published keep weight enabled engine preprocess_uri requirements");
        router.Add("serving.create_key", CreateKey, "endpoint name");
        router.Add("serving.revoke_key", RevokeKey, "endpoint key_id");
        router.Add("serving.get_keys", GetKeys, "endpoint");
        router.Add("serving.get_host_config", GetHostConfig, "");
        router.Add("serving.register_container", RegisterContainer, "container_id endpoint_url");
        router.Add("serving.unregister_container", UnregisterContainer, "container_id");
        router.Add("serving.container_status_report", StatusReport, "container_id endpoint_url versions machine_stats");
        router.Add("serving.get_endpoint_metrics_history", MetricsHistory, "endpoint version metric_type from_date to_date interval");
        router.Add("serving.set_metric", SetMetric, "endpoint version log_frequency variables");
        router.Add("serving.remove_metric", RemoveMetric, "endpoint version variables");
        router.Add("serving.get_control_planes", GetControlPlanes, "");
    }

    private string Now() => Json.Timestamp(clock.GetUtcNow());

    private async ValueTask<JsonNode?> CreateEndpoint(RpcCall call)
    {
        var name = call.RequireString("name");
        if (!NamePattern().IsMatch(name))
            throw ApiException.Validation($"endpoint name '{name}': letters, digits, '_', '.', '-' only, up to 100, starting with a letter or digit");
        var id = Guid.NewGuid().ToString("N");
        var now = Now();
        var endpoint = new JsonObject
        {
            ["id"] = id,
            ["name"] = name,
            ["user"] = call.Caller.User,
            ["company"] = call.Caller.Company,
            ["created"] = now,
            ["last_update"] = now,
            ["public"] = false,
            ["versions"] = new JsonArray(),
            ["next_version"] = 1,
            ["keys"] = new JsonArray(),
        };
        ApplySettings(call, endpoint);
        if (!await docs.InsertAsync(Collection.ServingEndpoints, id, endpoint, call.Aborted))
            throw ApiException.NotUnique($"endpoint name '{name}'");
        return new JsonObject { ["id"] = id };
    }

    private static void ApplySettings(RpcCall call, JsonObject endpoint)
    {
        if (call.Has("public"))
            endpoint["public"] = call.Bool("public");
        // An explicit null turns the log off as false does, so this one is present-or-not rather than Has (not null).
        if (call.Body.ContainsKey("request_log"))
            endpoint["request_log"] = RequestLog(call.Body["request_log"]);
        if (call.Has("sticky_header"))
        {
            // The same value of this header keeps a caller on one version of a canary; empty turns it off.
            var header = call.String("sticky_header") ?? "";
            if (header.Length > 0 && !HeaderPattern().IsMatch(header))
                throw ApiException.Validation("sticky_header must be an HTTP header name (letters, digits and '-', up to 100)");
            endpoint["sticky_header"] = header.Length > 0 ? header : null;
        }
        foreach (var (field, min, max) in new[] { ("max_request_bytes", 1L, 1L << 30), ("max_batch_size", 1L, 4096L), ("max_queue_delay_ms", 0L, 10_000L) })
        {
            if (call.Long(field) is not { } value)
                continue;
            if (value < min || value > max)
                throw ApiException.Validation($"{field} must be between {min} and {max}");
            endpoint[field] = value;
        }
    }

    /// <summary>
    /// The request log (the retraining loop): <c>sample</c> (0 to 1, default 1), <c>max_records</c> and <c>max_seconds</c> (a
    /// batch becomes a dataset version when either is reached; default 1,000 and 60), <c>project</c> and <c>dataset</c> (default
    /// "serving" and "ENDPOINT-requests"). Null or false turns it off.
    /// </summary>
    private static JsonObject? RequestLog(JsonNode? node)
    {
        if (node is null || (node is JsonValue off && off.GetValueKind() == JsonValueKind.False))
            return null;
        if (node is not JsonObject given)
            throw ApiException.Validation("request_log must be an object (sample, max_records, max_seconds, project, dataset), or null to turn it off");
        var log = new JsonObject();
        foreach (var (field, min, max) in new[] { ("sample", 0.0, 1.0), ("max_records", 1.0, 100_000.0), ("max_seconds", 1.0, 86_400.0) })
        {
            if (given[field] is null)
                continue;
            if (given[field] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || Json.GetDouble(v) is not { } n || n < min || n > max)
                throw ApiException.Validation($"request_log.{field} must be a number from {min} to {max}");
            log[field] = field == "max_records" ? (long)n : n;
        }
        foreach (var field in new[] { "project", "dataset" })
        {
            if (given[field] is null)
                continue;
            if (given[field] is not JsonValue v || v.GetValueKind() != JsonValueKind.String || v.GetValue<string>() is not { Length: > 0 and <= 200 } text || text.Any(char.IsControl))
                throw ApiException.Validation($"request_log.{field} must be a name of 1 to 200 characters");
            log[field] = text;
        }
        foreach (var (key, _) in given)
        {
            if (key is not ("sample" or "max_records" or "max_seconds" or "project" or "dataset"))
                throw ApiException.Validation($"request_log has no setting '{key}' (sample, max_records, max_seconds, project, dataset)");
        }
        return log;
    }

    private async ValueTask<JsonNode?> UpdateEndpoint(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        if (call.String("name") is { } name && !NamePattern().IsMatch(name))
            throw ApiException.Validation($"endpoint name '{name}'");
        await ChangeAsync(call, id, body =>
        {
            if (call.String("name") is { } newName)
            {
                RefuseImported(body, "rename");
                body["name"] = newName;
            }
            ApplySettings(call, body);
        });
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> DeleteEndpoint(RpcCall call)
    {
        var endpoint = await RequireAsync(call, call.RequireString("endpoint"));
        RefuseImported(endpoint.Body, "delete");
        await docs.DeleteAsync(Collection.ServingEndpoints, endpoint.Id, call.Aborted);
        return new JsonObject { ["deleted"] = 1 };
    }

    private async ValueTask<JsonNode?> GetEndpoint(RpcCall call)
    {
        var endpoint = await RequireAsync(call, call.RequireString("endpoint"));
        var states = await StatesAsync(call);
        return new JsonObject { ["endpoint"] = Public(endpoint.Body, states) };
    }

    /// <summary>The endpoints the caller may read, each version with the states and statistics the hosts last reported.</summary>
    private async ValueTask<JsonNode?> GetEndpoints(RpcCall call)
    {
        await controlPlanes.SyncAsync(call.Caller.Company, call.Aborted);
        var query = new DocQuery().Where(await access.VisibleAsync(call.Caller, Collection.ServingEndpoints, call.Aborted));
        if (call.String("name") is { } name)
            query.Where(new FieldIn("name", [name]));
        query.OrderBy.Add(new SortKey("name", true));
        var states = await StatesAsync(call);
        var found = await docs.FindAsync(Collection.ServingEndpoints, query, call.Aborted);
        return new JsonObject { ["endpoints"] = new JsonArray(found.Select(e => (JsonNode)Public(e.Body, states)).ToArray()) };
    }

    private async ValueTask<JsonNode?> AddVersion(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var modelId = call.RequireString("model");
        // The entity check has made sure the caller may read the model (an unreadable one answers as unknown).
        var model = await docs.GetAsync<ModelDocument>(modelId, call.Aborted) ?? throw ApiException.InvalidModelId(modelId);
        if (string.IsNullOrEmpty(model.Uri))
            throw ApiException.Validation($"model {modelId} has no file (uri) to serve");
        var (engine, preprocess, requirements) = EngineSettings(call);
        var inputs = Tensors(call, "inputs");
        var outputs = Tensors(call, "outputs");
        var weight = Weight(call.Body["weight"], "weight");
        var number = 0L;
        await ChangeAsync(call, id, body =>
        {
            RefuseImported(body, "add versions to");
            number = Json.GetLong(body["next_version"]) ?? 1;
            var versions = body["versions"] as JsonArray ?? [];
            // With no weight the new version takes all the traffic once a host has it ready (the others keep serving until then).
            if (weight is null)
            {
                foreach (var other in versions.OfType<JsonObject>())
                    other["weight"] = 0.0;
            }
            var added = new JsonObject
            {
                ["version"] = number,
                ["model"] = modelId,
                ["engine"] = engine,
                ["inputs"] = inputs,
                ["outputs"] = outputs,
                ["weight"] = weight ?? 1.0,
                ["added"] = Now(),
            };
            if (preprocess.Length > 0)
                added["preprocess_uri"] = preprocess;
            if (requirements.Length > 0)
                added["requirements"] = requirements;
            versions.Add(added);
            body["versions"] = versions;
            body["next_version"] = number + 1;
        });
        return new JsonObject { ["version"] = number };
    }

    private async ValueTask<JsonNode?> RemoveVersion(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var number = call.Long("version") ?? throw ApiException.MissingField("version");
        await ChangeAsync(call, id, body =>
        {
            RefuseImported(body, "remove versions of");
            var versions = body["versions"] as JsonArray ?? [];
            var found = versions.OfType<JsonObject>().FirstOrDefault(v => Json.GetLong(v["version"]) == number)
                        ?? throw ApiException.Validation($"endpoint {id} has no version {number}");
            versions.Remove(found);
        });
        return new JsonObject { ["removed"] = 1 };
    }

    /// <summary>
    /// The engine of a version (or of the versions an auto-update rule adds) and, for the python engine, its pre/post-processing
    /// code (clearml-serving's preprocess.py: a file on the file server, or any URL hosts can read; required) and the
    /// requirements its environment is built from.
    /// </summary>
    private static (string Engine, string Preprocess, string Requirements) EngineSettings(RpcCall call)
    {
        var engine = call.String("engine") ?? "onnx";
        if (!Engines.Contains(engine))
            throw ApiException.Validation($"engine '{engine}' is not supported (supported: {string.Join(", ", Engines)})");
        var preprocess = call.String("preprocess_uri") ?? "";
        if (preprocess.Length > 0 && (!Uri.TryCreate(preprocess, UriKind.Absolute, out var code) || code.Scheme is not ("http" or "https" or "file" or "s3")))
            throw ApiException.Validation($"preprocess_uri '{preprocess}' is not an http(s), s3 or file URL");
        if (engine == "python" && preprocess.Length == 0)
            throw ApiException.Validation("the python engine needs preprocess_uri: the file with the version's Preprocess class");
        var requirements = call.String("requirements") ?? "";
        if (requirements.Length > 64 * 1024)
            throw ApiException.Validation("requirements are limited to 64 KiB");
        if (requirements.Length > 0 && engine != "python")
            throw ApiException.Validation("requirements apply to the python engine only");
        return (engine, preprocess, requirements);
    }

    /// <summary>Weights per version number; versions not named keep theirs. Traffic splits in proportion among ready versions.</summary>
    /// <summary>
    /// Makes a version a shadow: it gets a copy of <c>share</c> of the endpoint's requests (0 to 1) and its answers are only
    /// recorded, never returned; it takes no live traffic while a shadow. A share of 0 ends it (its weight is as before).
    /// </summary>
    private async ValueTask<JsonNode?> SetShadow(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var number = call.Long("version") ?? throw ApiException.MissingField("version");
        var share = Weight(call.Body["share"], "share") ?? throw ApiException.MissingField("share");
        if (share > 1)
            throw ApiException.Validation("share must be between 0 and 1 (the part of the requests copied to the shadow)");
        await ChangeAsync(call, id, body =>
        {
            RefuseImported(body, "change the shadow of");
            var versions = (body["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            var found = versions.FirstOrDefault(v => Json.GetLong(v["version"]) == number) ?? throw ApiException.Validation($"endpoint {id} has no version {number}");
            if (share > 0 && !versions.Any(v => v != found && (Json.GetDouble(v["shadow"]) ?? 0) == 0 && (Json.GetDouble(v["weight"]) ?? 0) > 0))
                throw ApiException.Validation($"version {number} cannot shadow: no other version of endpoint {id} takes live traffic");
            if (share > 0)
                found["shadow"] = share;
            else
                found.Remove("shadow");
        });
        return new JsonObject { ["updated"] = 1 };
    }

    private async ValueTask<JsonNode?> SetCanary(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var weights = call.Object("weights") ?? throw ApiException.MissingField("weights");
        var parsed = new Dictionary<long, double>();
        foreach (var (key, value) in weights)
        {
            if (!long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                throw ApiException.Validation($"weights: '{key}' is not a version number");
            parsed[number] = Weight(value, $"weights.{key}") ?? throw ApiException.Validation($"weights.{key} must be a number");
        }
        await ChangeAsync(call, id, body =>
        {
            RefuseImported(body, "change the canary weights of");
            var versions = (body["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            foreach (var number in parsed.Keys)
            {
                if (!versions.Any(v => Json.GetLong(v["version"]) == number))
                    throw ApiException.Validation($"endpoint {id} has no version {number}");
            }
            foreach (var version in versions)
            {
                if (parsed.TryGetValue(Json.GetLong(version["version"]) ?? 0, out var w))
                    version["weight"] = w;
            }
            if (versions.Count > 0 && versions.Sum(v => Json.GetDouble(v["weight"]) ?? 0) <= 0)
                throw ApiException.Validation("at least one version needs a weight above 0");
        });
        return new JsonObject { ["updated"] = 1 };
    }

    /// <summary>
    /// The endpoint's auto-update rule (<see cref="ServingAutoUpdate"/>): models named <c>model_name</c>, in <c>project</c>, with
    /// all of <c>tags</c>, and with <c>published</c> only once published, become new versions; <c>keep</c> versions stay
    /// (default 2); <c>weight</c> is the new version's share (default: all traffic once ready); <c>engine</c>, <c>preprocess_uri</c>
    /// and <c>requirements</c> are the new versions' (as in add_version). <c>enabled: false</c> removes it.
    /// </summary>
    private async ValueTask<JsonNode?> SetAutoUpdate(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        JsonObject? rule = null;
        if (call.Bool("enabled", true))
        {
            var name = call.String("model_name");
            var project = call.String("project");
            var tags = call.StringList("tags") ?? [];
            if (string.IsNullOrEmpty(name) && string.IsNullOrEmpty(project) && tags.Count == 0)
                throw ApiException.Validation("an auto-update rule needs model_name, project or tags (otherwise every model would match)");
            var keep = call.Long("keep") ?? 2;
            if (keep is < 1 or > 100)
                throw ApiException.Validation("keep must be between 1 and 100");
            rule = new JsonObject
            {
                ["model_name"] = name ?? "",
                ["project"] = project ?? "",
                ["tags"] = Json.SortedStrings(tags),
                ["published"] = call.Bool("published"),
                ["keep"] = keep,
            };
            if (Weight(call.Body["weight"], "weight") is { } w)
                rule["weight"] = w;
            var (engine, preprocess, requirements) = EngineSettings(call);
            rule["engine"] = engine;
            if (preprocess.Length > 0)
                rule["preprocess_uri"] = preprocess;
            if (requirements.Length > 0)
                rule["requirements"] = requirements;
        }
        await ChangeAsync(call, id, body =>
        {
            RefuseImported(body, "change the auto-update rule of");
            if (rule is null)
                body.Remove("auto_update");
            else
                body["auto_update"] = rule;
        });
        return new JsonObject { ["updated"] = 1 };
    }

    /// <summary>Makes a key for one endpoint; the key itself is in this answer only, the store keeps its hash.</summary>
    private async ValueTask<JsonNode?> CreateKey(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var key = KeyPrefix + SecretHash.NewKey(40);
        var keyId = SecretHash.NewKey(12);
        var name = call.String("name") ?? "";
        await ChangeAsync(call, id, body =>
        {
            var keys = body["keys"] as JsonArray ?? [];
            keys.Add(new JsonObject { ["id"] = keyId, ["name"] = name, ["hash"] = KeyHash(key), ["created"] = Now(), ["user"] = call.Caller.User });
            body["keys"] = keys;
        });
        return new JsonObject { ["id"] = keyId, ["key"] = key };
    }

    private async ValueTask<JsonNode?> RevokeKey(RpcCall call)
    {
        var id = call.RequireString("endpoint");
        var keyId = call.RequireString("key_id");
        await ChangeAsync(call, id, body =>
        {
            var keys = body["keys"] as JsonArray ?? [];
            var found = keys.OfType<JsonObject>().FirstOrDefault(k => Json.GetString(k, "id") == keyId)
                        ?? throw ApiException.InvalidId($"Invalid key id (id={keyId})");
            keys.Remove(found);
        });
        return new JsonObject { ["revoked"] = 1 };
    }

    private async ValueTask<JsonNode?> GetKeys(RpcCall call)
    {
        var endpoint = await RequireAsync(call, call.RequireString("endpoint"));
        return new JsonObject { ["keys"] = KeysWithoutHashes(endpoint.Body) };
    }

    /// <summary>
    /// Endpoint keys are 40 random letters and digits (238 bits), so an unsalted SHA-256 cannot be reversed by guessing, and
    /// it lets a host find a presented key with one hash and one dictionary lookup per request.
    /// </summary>
    public static string KeyHash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>
    /// What an inference host needs: every endpoint the caller may read, with its versions' model files (only models the caller
    /// may read) and its keys' hashes. <c>revision</c> changes whenever any of it does, so a host compares one string per poll.
    /// </summary>
    private async ValueTask<JsonNode?> GetHostConfig(RpcCall call)
    {
        await controlPlanes.SyncAsync(call.Caller.Company, call.Aborted);
        var query = new DocQuery().Where(await access.VisibleAsync(call.Caller, Collection.ServingEndpoints, call.Aborted));
        query.OrderBy.Add(new SortKey("name", true));
        var found = await docs.FindAsync(Collection.ServingEndpoints, query, call.Aborted);
        var endpoints = new JsonArray();
        var revision = new StringBuilder();
        foreach (var endpoint in found)
        {
            var body = (JsonObject)endpoint.Body.DeepClone();
            revision.Append(endpoint.Id).Append(':').Append(endpoint.Version).Append(';');
            foreach (var version in (body["versions"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var modelId = Json.GetString(version, "model") ?? "";
                var model = await docs.GetAsync(Collection.Models, modelId, call.Aborted);
                var readable = model is not null && await access.LevelAsync(call.Caller, Collection.Models, model.Body, call.Aborted) >= Level.Read;
                var uri = readable ? model!.As<ModelDocument>().Uri ?? "" : "";
                version["model_uri"] = uri;
                revision.Append(modelId).Append('=').Append(uri).Append(';');
            }
            body["keys"] = new JsonArray((body["keys"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(k => (JsonNode)new JsonObject { ["id"] = Json.GetString(k, "id"), ["hash"] = Json.GetString(k, "hash") }).ToArray());
            endpoints.Add(body);
        }
        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(revision.ToString())))[..16];
        return new JsonObject { ["revision"] = digest, ["endpoints"] = endpoints };
    }

    private async ValueTask<JsonNode?> RegisterContainer(RpcCall call)
    {
        var id = ContainerId(call);
        var now = Now();
        var body = new JsonObject
        {
            ["id"] = id,
            ["company"] = call.Caller.Company,
            ["user"] = call.Caller.User,
            ["endpoint_url"] = call.String("endpoint_url") ?? "",
            ["registered"] = now,
            ["last_report"] = now,
            ["versions"] = new JsonArray(),
        };
        if (!await docs.InsertAsync(Collection.ServingContainers, id, body, call.Aborted))
        {
            await docs.UpdateAsync(Collection.ServingContainers, id, existing =>
            {
                existing["endpoint_url"] = body["endpoint_url"]!.DeepClone();
                existing["last_report"] = now;
            }, null, call.Aborted);
        }
        return new JsonObject { ["id"] = id };
    }

    private async ValueTask<JsonNode?> UnregisterContainer(RpcCall call)
    {
        var id = ContainerId(call);
        await RequireContainerAsync(call, id);
        await docs.DeleteAsync(Collection.ServingContainers, id, call.Aborted);
        return new JsonObject { ["removed"] = 1 };
    }

    /// <summary>
    /// A host's state of each endpoint version it serves (loading, ready, failed with the reason) and what it served since
    /// its last report; the counts also go into the statistics history.
    /// </summary>
    private async ValueTask<JsonNode?> StatusReport(RpcCall call)
    {
        var id = ContainerId(call);
        var url = call.String("endpoint_url") is { Length: > 0 } given ? given : throw ApiException.MissingField("endpoint_url");
        var versions = new JsonArray();
        var stats = new List<JsonObject>();
        var now = clock.GetUtcNow();
        var machine = new JsonObject();
        foreach (var (field, node) in call.Object("machine_stats") ?? [])
        {
            // Only the known figures, as numbers: the report is stored with every version's statistics.
            if (MachineMetrics.Contains(field) && Json.GetDouble(node) is { } value && double.IsFinite(value))
                machine[field] = value;
        }
        foreach (var entry in call.Array("versions") ?? [])
        {
            if (entry is not JsonObject v || Json.GetString(v, "endpoint") is not { Length: > 0 } endpoint || Json.GetLong(v["version"]) is not { } number)
                throw ApiException.Validation("versions: each entry needs endpoint (id) and version (number)");
            var state = Json.GetString(v, "state") ?? "unknown";
            var report = new JsonObject
            {
                ["endpoint"] = endpoint,
                ["version"] = number,
                ["state"] = state,
                ["reason"] = Json.GetString(v, "reason") ?? "",
                // cpu, cuda:N or python: where the host runs the version.
                ["device"] = Json.GetString(v, "device") is { Length: > 0 and <= 32 } device ? device : "",
                ["requests"] = Json.GetLong(v["requests"]) ?? 0,
                ["errors"] = Json.GetLong(v["errors"]) ?? 0,
                ["requests_min"] = Json.GetDouble(v["requests_min"]) ?? 0,
                ["latency_ms"] = Json.GetDouble(v["latency_ms"]) ?? 0,
            };
            // Custom statistics a Python-engine version's code collected (totals since the host loaded it), kept if small.
            if (v["custom"] is JsonObject custom && custom.ToJsonString().Length <= 16 * 1024)
                report["custom"] = custom.DeepClone();
            versions.Add(report);
            var stat = (JsonObject)report.DeepClone();
            foreach (var (field, value) in machine)
                stat[field] = value!.DeepClone();
            stat["container"] = id;
            stat["company"] = call.Caller.Company;
            stat["ts"] = now.ToUnixTimeMilliseconds();
            stats.Add(stat);
        }
        var body = new JsonObject
        {
            ["id"] = id,
            ["company"] = call.Caller.Company,
            ["user"] = call.Caller.User,
            ["endpoint_url"] = url,
            ["last_report"] = Json.Timestamp(now),
            ["versions"] = versions,
            ["machine_stats"] = machine,
        };
        var existing = await docs.GetAsync(Collection.ServingContainers, id, call.Aborted);
        if (existing is not null && Tenants.Of(existing.Body) != call.Caller.Company)
            throw ApiException.InvalidId($"Invalid container id (id={id})");
        if (existing is null)
        {
            body["registered"] = body["last_report"]!.DeepClone();
            await docs.InsertAsync(Collection.ServingContainers, id, body, call.Aborted);
        }
        else
        {
            body["registered"] = existing.Body["registered"]?.DeepClone();
            await docs.ReplaceAsync(Collection.ServingContainers, existing, body, call.Aborted);
        }
        foreach (var stat in stats)
            await docs.InsertAsync(Collection.ServingStats, Guid.NewGuid().ToString("N"), stat, call.Aborted);
        return new JsonObject { ["updated"] = 1 };
    }

    /// <summary>One metric of an endpoint (optionally one version) over time, summed across hosts per <c>interval</c> seconds.</summary>
    private async ValueTask<JsonNode?> MetricsHistory(RpcCall call)
    {
        var endpoint = await RequireAsync(call, call.RequireString("endpoint"));
        var metric = call.String("metric_type") ?? "requests";
        if (!MetricTypes.Contains(metric))
            throw ApiException.Validation($"metric_type must be one of {string.Join(", ", MetricTypes)}");
        var interval = Math.Max(1, call.Long("interval") ?? 60);
        var to = call.Long("to_date") ?? clock.GetUtcNow().ToUnixTimeSeconds();
        var from = call.Long("from_date") ?? to - 3600;
        if (from > to)
            throw ApiException.Validation("from_date is after to_date");
        var query = new DocQuery().Where(new FieldIn("endpoint", [endpoint.Id]));
        var found = await docs.FindAsync(Collection.ServingStats, query, call.Aborted);
        var version = call.Long("version");
        var machine = MachineMetrics.Contains(metric);
        var buckets = new SortedDictionary<long, (double Sum, int Count)>();
        var hosts = new SortedDictionary<string, SortedDictionary<long, (double Sum, int Count)>>(StringComparer.Ordinal);
        foreach (var stat in found.Select(s => s.Body))
        {
            var ts = (Json.GetLong(stat["ts"]) ?? 0) / 1000;
            if (ts < from || ts > to || (version is { } v && Json.GetLong(stat["version"]) != v))
                continue;
            // A host figure is missing where the host has no such thing (no GPU); it is not a zero.
            if (machine && Json.GetDouble(stat[metric]) is null)
                continue;
            var bucket = from + (ts - from) / interval * interval;
            var value = Json.GetDouble(stat[metric]) ?? 0;
            buckets[bucket] = buckets.TryGetValue(bucket, out var b) ? (b.Sum + value, b.Count + 1) : (value, 1);
            if (machine)
            {
                var container = Json.GetString(stat, "container") ?? "";
                if (!hosts.TryGetValue(container, out var own))
                    hosts[container] = own = [];
                own[bucket] = own.TryGetValue(bucket, out var h) ? (h.Sum + value, h.Count + 1) : (value, 1);
            }
        }
        // Counts add up across hosts and reports; latency and host figures are averages of the reports'.
        var averaged = metric == "latency_ms" || machine;
        var result = new JsonObject
        {
            ["endpoint"] = endpoint.Id,
            ["metric_type"] = metric,
            ["dates"] = new JsonArray(buckets.Keys.Select(k => (JsonNode)k).ToArray()),
            ["values"] = new JsonArray(buckets.Values.Select(b => (JsonNode)(averaged ? b.Sum / b.Count : b.Sum)).ToArray()),
        };
        if (machine)
        {
            // Each host that served the endpoint (a version of it, or the one asked for) on its own.
            result["hosts"] = new JsonArray(hosts.Select(h => (JsonNode)new JsonObject
            {
                ["container"] = h.Key,
                ["dates"] = new JsonArray(h.Value.Keys.Select(k => (JsonNode)k).ToArray()),
                ["values"] = new JsonArray(h.Value.Values.Select(b => (JsonNode)(b.Sum / b.Count)).ToArray()),
            }).ToArray());
        }
        return result;
    }

    private static string ContainerId(RpcCall call)
    {
        var id = call.RequireString("container_id");
        if (id.Length is 0 or > 200)
            throw ApiException.Validation("container_id must be 1 to 200 characters");
        return id;
    }

    private async Task RequireContainerAsync(RpcCall call, string id)
    {
        var found = await docs.GetAsync(Collection.ServingContainers, id, call.Aborted);
        if (found is null || Tenants.Of(found.Body) != call.Caller.Company)
            throw ApiException.InvalidId($"Invalid container id (id={id})");
    }

    /// <summary>Version states per "endpoint/version" from every host's last report, newest host report first.</summary>
    private async Task<Dictionary<string, JsonArray>> StatesAsync(RpcCall call)
    {
        var containers = await docs.FindAsync(Collection.ServingContainers, new DocQuery().Where(Tenants.Filter(call.Caller.Company)), call.Aborted);
        var states = new Dictionary<string, JsonArray>(StringComparer.Ordinal);
        foreach (var container in containers)
        {
            foreach (var v in (container.Body["versions"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var key = $"{Json.GetString(v, "endpoint")}/{Json.GetLong(v["version"])}";
                if (!states.TryGetValue(key, out var list))
                    states[key] = list = [];
                var entry = (JsonObject)v.DeepClone();
                entry.Remove("endpoint");
                entry.Remove("version");
                entry["container"] = container.Id;
                entry["endpoint_url"] = Json.GetString(container.Body, "endpoint_url");
                entry["last_report"] = Json.GetString(container.Body, "last_report");
                if (container.Body["machine_stats"] is JsonObject machine)
                    entry["machine_stats"] = machine.DeepClone();
                list.Add(entry);
            }
        }
        return states;
    }

    private static JsonObject Public(JsonObject stored, Dictionary<string, JsonArray> states)
    {
        var body = (JsonObject)stored.DeepClone();
        body["keys"] = KeysWithoutHashes(stored);
        foreach (var version in (body["versions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var key = $"{Json.GetString(body, "id")}/{Json.GetLong(version["version"])}";
            version["instances"] = states.TryGetValue(key, out var list) ? list.DeepClone() : new JsonArray();
        }
        return body;
    }

    private static JsonArray KeysWithoutHashes(JsonObject endpoint) =>
        new((endpoint["keys"] as JsonArray ?? []).OfType<JsonObject>().Select(k =>
        {
            var copy = (JsonObject)k.DeepClone();
            copy.Remove("hash");
            return (JsonNode)copy;
        }).ToArray());

    private static double? Weight(JsonNode? node, string field)
    {
        if (node is null)
            return null;
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number || Json.GetDouble(node) is not { } w || !double.IsFinite(w) || w < 0)
            throw ApiException.Validation($"{field} must be a number of at least 0");
        return w;
    }

    /// <summary>An input/output description: [{name, datatype, shape}] with -1 for a variable dimension; optional.</summary>
    private static JsonArray Tensors(RpcCall call, string field)
    {
        var list = call.Array(field);
        if (list is null)
            return [];
        var result = new JsonArray();
        foreach (var item in list)
        {
            if (item is not JsonObject tensor || Json.GetString(tensor, "name") is not { Length: > 0 } name)
                throw ApiException.Validation($"{field}: each entry needs a name");
            var datatype = Json.GetString(tensor, "datatype") ?? "FP32";
            if (!Datatypes.Contains(datatype))
                throw ApiException.Validation($"{field}.{name}: datatype '{datatype}' is not one of {string.Join(", ", Datatypes)}");
            var shape = new JsonArray();
            foreach (var dim in tensor["shape"] as JsonArray ?? [])
            {
                if (Json.GetLong(dim) is not { } d || d < -1)
                    throw ApiException.Validation($"{field}.{name}: shape holds whole numbers, -1 for a variable dimension");
                shape.Add(d);
            }
            result.Add(new JsonObject { ["name"] = name, ["datatype"] = datatype, ["shape"] = shape });
        }
        return result;
    }

    private async Task<StoredDoc> RequireAsync(RpcCall call, string id) =>
        await docs.GetAsync(Collection.ServingEndpoints, id, call.Aborted) is { } found && Tenants.Of(found.Body) == call.Caller.Company
            ? found
            : throw InvalidEndpointId(id);

    private async Task ChangeAsync(RpcCall call, string id, Action<JsonObject> change)
    {
        await RequireAsync(call, id);
        await docs.UpdateAsync(Collection.ServingEndpoints, id, body =>
        {
            change(body);
            body["last_update"] = Now();
        }, () => InvalidEndpointId(id), call.Aborted);
    }

    /// <summary>
    /// An endpoint imported from a clearml-serving control plane has its versions, canary, auto-update and metric rules from
    /// there (a change here would be undone by the next import); its keys and settings are Slipway's.
    /// </summary>
    private static void RefuseImported(JsonObject endpoint, string what)
    {
        if (Json.GetString(endpoint, "control_plane") is { } task)
            throw ApiException.Validation($"endpoint '{Json.GetString(endpoint, "name")}' is configured by the clearml-serving service {task}: {what} it with clearml-serving");
    }

    public static ApiException InvalidEndpointId(string id) => ApiException.InvalidId($"Invalid endpoint id (id={id})");
}
