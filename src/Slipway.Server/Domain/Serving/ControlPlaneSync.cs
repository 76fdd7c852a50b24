using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Serving;

/// <summary>
/// Keeps the endpoints of clearml-serving control planes (<see cref="ControlPlaneImport"/>) as Slipway endpoints of the tenant,
/// so hosts, the web UI and the CLI see them like any other. An imported endpoint records its task (<c>control_plane</c>); the
/// import owns its versions, auto-update rule and metric rules, while keys, the public flag and limits stay Slipway's to set.
/// A task is read again only when it, or an endpoint it made, changed since the last import in this process (auto-update adds
/// versions that canaries over a prefix follow); names it cannot take are logged and kept in <see cref="Reports"/>.
/// </summary>
public sealed partial class ControlPlaneSync(IDocumentStore docs, TimeProvider clock, ILogger<ControlPlaneSync> logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, Imported> _imported = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    public void Dispose() => _gate.Dispose();

    private sealed record Imported(string Fingerprint, JsonObject Report);

    /// <summary>The last import of each control plane of <paramref name="company"/>: its endpoints and what it rejected.</summary>
    public IReadOnlyList<JsonObject> Reports(string company) =>
        [.. _imported.Values.Select(i => i.Report).Where(r => Json.GetString(r, "company") == company).OrderBy(r => Json.GetString(r, "task"), StringComparer.Ordinal)];

    /// <summary>Brings the tenant's imported endpoints up to date with its control-plane tasks.</summary>
    public async Task SyncAsync(string company, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var tasks = (await docs.FindAsync(Collection.Tasks, new DocQuery()
                    .Where(Tenants.FilterWithLegacy(company))
                    .Where(new TagMatch("system_tags", TagQuery.Parse([ControlPlaneImport.SystemTag]))), ct))
                .Where(t => !Json.GetStrings(t.Body, "system_tags").Contains("archived"))
                .ToList();
            var endpoints = await docs.FindAsync(Collection.ServingEndpoints, new DocQuery().Where(Tenants.Filter(company)), ct);
            var live = tasks.Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
            // Endpoints of a control plane that is gone (deleted or archived) go with it.
            foreach (var orphan in endpoints.Where(e => Json.GetString(e.Body, "control_plane") is { } owner && !live.Contains(owner)))
                await docs.DeleteAsync(Collection.ServingEndpoints, orphan.Id, ct);
            foreach (var gone in _imported.Where(i => Json.GetString(i.Value.Report, "company") == company && !live.Contains(i.Key)).ToList())
                _imported.TryRemove(gone.Key, out _);
            foreach (var task in tasks)
            {
                var fingerprint = Fingerprint(task, endpoints);
                if (_imported.TryGetValue(task.Id, out var last) && last.Fingerprint == fingerprint)
                    continue;
                var report = await ImportAsync(company, task, endpoints, last?.Report, ct);
                _imported[task.Id] = new Imported(fingerprint, report);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The task's version and those of the endpoints it made, except its canaries (which the import itself writes).</summary>
    private static string Fingerprint(StoredDoc task, List<StoredDoc> endpoints)
    {
        var text = new StringBuilder().Append(task.Id).Append(':').Append(task.Version);
        foreach (var e in endpoints.Where(e => Json.GetString(e.Body, "control_plane") == task.Id && e.Body["control_plane_canary"] is null).OrderBy(e => e.Id, StringComparer.Ordinal))
            text.Append(';').Append(e.Id).Append(':').Append(e.Version);
        return text.ToString();
    }

    private async Task<JsonObject> ImportAsync(string company, StoredDoc task, List<StoredDoc> endpoints, JsonObject? previous, CancellationToken ct)
    {
        var config = ControlPlaneImport.Read(task.Body);
        var rejected = config.Rejected.ToList();
        var byName = endpoints.ToDictionary(e => Json.GetString(e.Body, "name") ?? "", StringComparer.Ordinal);
        var artifacts = (Json.Get(task.Body, "execution.artifacts") as JsonArray ?? []).OfType<JsonObject>()
            .Where(a => Json.GetString(a, "key") is not null)
            .GroupBy(a => Json.GetString(a, "key")!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => Json.GetString(g.Last(), "uri") ?? "", StringComparer.Ordinal);
        // Versions by "name/number" (and "name" for an unversioned one), for canaries to copy.
        var served = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var desired = new List<(ImportedEndpoint Endpoint, JsonArray Versions, JsonObject? Rule)>();

        foreach (var endpoint in config.Endpoints.Where(e => e.Canary is null))
        {
            if (Taken(task.Id, endpoint.Name, byName) is { } reason)
            {
                rejected.Add(new(endpoint.Name, reason));
                continue;
            }
            byName.TryGetValue(endpoint.Name, out var existing);
            JsonArray versions;
            JsonObject? rule = null;
            if (endpoint.Monitor is { } monitor)
            {
                (rule, var note) = await RuleAsync(company, monitor, artifacts, ct);
                if (note is not null)
                    rejected.Add(new(endpoint.Name, note));
                versions = existing?.Body["auto_update"] is JsonObject stored && JsonNode.DeepEquals(stored, rule)
                    ? (JsonArray)(existing.Body["versions"]?.DeepClone() ?? new JsonArray())
                    : await SeedAsync(company, rule, existing, ct);
            }
            else
            {
                versions = [];
                foreach (var v in endpoint.Versions.OrderBy(v => v.Number))
                {
                    var version = Version(v.Number, v.ModelId, v.Engine, v.Inputs, v.Outputs);
                    if (!Code(v.PreprocessArtifact, version, artifacts, out var missing))
                    {
                        rejected.Add(new($"{endpoint.Name}/{v.Number}", missing));
                        continue;
                    }
                    versions.Add(version);
                }
                // As clearml-serving: /serve/{name} is the unversioned endpoint when there is one; else the newest version answers.
                var numbers = versions.OfType<JsonObject>().Select(v => Json.GetLong(v["version"]) ?? 0).ToList();
                var lead = numbers.Contains(0) ? 0 : numbers.DefaultIfEmpty(-1).Max();
                foreach (var v in versions.OfType<JsonObject>())
                    v["weight"] = Json.GetLong(v["version"]) == lead ? 1.0 : 0.0;
                KeepAdded(versions, existing);
            }
            foreach (var v in versions.OfType<JsonObject>())
            {
                var number = Json.GetLong(v["version"]) ?? 0;
                // clearml-serving's URL of the version: "name/N", or "name" for the unversioned one.
                served[number == 0 ? endpoint.Name : $"{endpoint.Name}/{number}"] = v;
            }
            desired.Add((endpoint, versions, rule));
        }

        foreach (var endpoint in config.Endpoints.Where(e => e.Canary is not null))
        {
            if (Taken(task.Id, endpoint.Name, byName) is { } reason)
            {
                rejected.Add(new(endpoint.Name, reason));
                continue;
            }
            var versions = CanaryVersions(endpoint.Name, endpoint.Canary!, served, rejected);
            byName.TryGetValue(endpoint.Name, out var existing);
            KeepAdded(versions, existing);
            desired.Add((endpoint, versions, null));
        }

        var imported = new JsonArray();
        foreach (var (endpoint, versions, rule) in desired)
        {
            byName.TryGetValue(endpoint.Name, out var existing);
            await StoreAsync(company, task, endpoint, versions, rule, existing, ct);
            imported.Add(endpoint.Name);
        }
        var keep = desired.Select(d => d.Endpoint.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in endpoints.Where(e => Json.GetString(e.Body, "control_plane") == task.Id && !keep.Contains(Json.GetString(e.Body, "name") ?? "")))
            await docs.DeleteAsync(Collection.ServingEndpoints, stale.Id, ct);

        var rejections = new JsonArray(rejected.Select(r => (JsonNode)new JsonObject { ["name"] = r.Name, ["reason"] = r.Reason }).ToArray());
        // The import that follows its own writes finds the same: it is not logged twice.
        if (previous is null || !JsonNode.DeepEquals(previous["rejected"], rejections) || !JsonNode.DeepEquals(previous["endpoints"], imported))
        {
            foreach (var r in rejected)
                Log.Rejected(logger, task.Id, r.Name, r.Reason);
            Log.Imported(logger, task.Id, imported.Count, rejected.Count);
        }
        return new JsonObject
        {
            ["task"] = task.Id,
            ["name"] = Json.GetString(task.Body, "name") ?? "",
            ["company"] = company,
            ["imported"] = Json.Timestamp(clock.GetUtcNow()),
            ["endpoints"] = imported,
            ["rejected"] = rejections,
        };
    }

    private static string? Taken(string taskId, string name, Dictionary<string, StoredDoc> byName) =>
        byName.TryGetValue(name, out var existing) && Json.GetString(existing.Body, "control_plane") != taskId
            ? Json.GetString(existing.Body, "control_plane") is { } other
                ? $"the endpoint name '{name}' is already imported from serving service {other}"
                : $"the endpoint name '{name}' is taken by a Slipway endpoint ({existing.Id})"
            : null;

    private static JsonObject Version(long number, string model, string engine, JsonArray inputs, JsonArray outputs) => new()
    {
        ["version"] = number,
        ["model"] = model,
        ["engine"] = engine,
        ["inputs"] = inputs.DeepClone(),
        ["outputs"] = outputs.DeepClone(),
        ["weight"] = 0.0,
    };

    /// <summary>Binds the version to its code artifact's URL; false (with the reason) when the task has no such artifact.</summary>
    private static bool Code(string artifact, JsonObject version, Dictionary<string, string> artifacts, out string reason)
    {
        reason = "";
        if (artifact.Length == 0)
            return true;
        if (artifacts.TryGetValue(artifact, out var uri) && uri.Length > 0)
        {
            version["preprocess_uri"] = uri;
            return true;
        }
        reason = $"the preprocess code artifact '{artifact}' is not on the serving service task";
        return false;
    }

    /// <summary>Slipway's auto-update rule for clearml-serving's model monitoring; the project is looked up by name.</summary>
    private async Task<(JsonObject Rule, string? Note)> RuleAsync(string company, ImportedMonitor monitor, Dictionary<string, string> artifacts, CancellationToken ct)
    {
        string? note = null;
        var project = "";
        if (monitor.ProjectName.Length > 0)
        {
            var found = await docs.FindAsync(Collection.Projects, new DocQuery().Where(Tenants.FilterWithLegacy(company)).Where(new FieldIn("name", [monitor.ProjectName])), ct);
            if (found.Count > 0)
            {
                project = found[0].Id;
            }
            else
            {
                // A rule naming an unknown project must match nothing rather than every project.
                project = "(unknown project) " + monitor.ProjectName;
                note = $"auto-update: no project named '{monitor.ProjectName}' yet; no model matches until the serving service changes";
            }
        }
        var rule = new JsonObject
        {
            ["model_name"] = monitor.ModelName,
            ["project"] = project,
            ["tags"] = Json.SortedStrings(monitor.Tags),
            ["published"] = monitor.Published,
            ["keep"] = monitor.Keep,
            ["engine"] = monitor.Engine,
        };
        var probe = new JsonObject();
        if (!Code(monitor.PreprocessArtifact, probe, artifacts, out var missing))
            note = missing;
        else if (Json.GetString(probe, "preprocess_uri") is { } uri)
            rule["preprocess_uri"] = uri;
        return (rule, note);
    }

    /// <summary>
    /// The versions of a new or changed auto-update rule: the newest matching models (up to keep), as clearml-serving serves the
    /// models that match when its rule is added; models already served keep their numbers. Later models arrive through
    /// <see cref="ServingAutoUpdate"/>.
    /// </summary>
    private async Task<JsonArray> SeedAsync(string company, JsonObject rule, StoredDoc? existing, CancellationToken ct)
    {
        var query = new DocQuery().Where(Tenants.FilterWithLegacy(company));
        if (Json.GetString(rule, "model_name") is { Length: > 0 } name)
            query.Where(new FieldIn("name", [name]));
        if (Json.GetString(rule, "project") is { Length: > 0 } project)
            query.Where(new FieldIn("project", [project]));
        var tags = Json.GetStrings(rule, "tags");
        var models = (await docs.FindAsync(Collection.Models, query, ct))
            .Select(m => m.Body)
            .Where(m => !string.IsNullOrEmpty(Json.GetString(m, "uri")) && !Json.GetStrings(m, "system_tags").Contains("archived"))
            .Where(m => !Json.GetBool(rule, "published") || Json.GetBool(m, "ready"))
            .Where(m => tags.All(Json.GetStrings(m, "tags").Contains))
            .OrderByDescending(m => Json.GetString(m, "created"), StringComparer.Ordinal)
            .Take((int)(Json.GetLong(rule["keep"]) ?? 1))
            .Reverse()
            .ToList();
        var previous = (existing?.Body["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var next = Math.Max(Json.GetLong(existing?.Body["next_version"]) ?? 1, previous.Select(v => (Json.GetLong(v["version"]) ?? 0) + 1).DefaultIfEmpty(1).Max());
        var versions = new JsonArray();
        foreach (var model in models)
        {
            var id = Json.GetString(model, "id") ?? "";
            var number = previous.FirstOrDefault(v => Json.GetString(v, "model") == id) is { } kept ? Json.GetLong(kept["version"]) ?? next : next++;
            var version = Version(number, id, Json.GetString(rule, "engine") ?? "onnx", [], []);
            version["auto_update"] = true;
            if (Json.GetString(rule, "preprocess_uri") is { } uri)
                version["preprocess_uri"] = uri;
            versions.Add(version);
        }
        if (versions.LastOrDefault() is JsonObject newest)
            newest["weight"] = 1.0;
        KeepAdded(versions, existing);
        return versions;
    }

    /// <summary>
    /// A canary's versions: copies of its targets' versions (model, engine, code) with its weights, so <c>/serve/{canary}</c>
    /// splits traffic as clearml-serving does. With a prefix, the newest versions under it come first (the first weight is the
    /// newest's), as many as there are weights; named targets that do not exist are skipped and reported.
    /// </summary>
    private static JsonArray CanaryVersions(string name, ImportedCanary canary, Dictionary<string, JsonObject> served, List<ImportRejection> rejected)
    {
        List<string> targets;
        if (canary.Prefix is { } prefix)
        {
            targets = [.. served.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && k.Contains('/'))
                .OrderByDescending(SortKey, StringComparer.Ordinal).Take(canary.Weights.Count)];
            if (targets.Count == 0)
                rejected.Add(new(name, $"canary: no endpoint version under '{prefix}' yet"));
        }
        else
        {
            targets = [.. canary.Targets];
        }
        var versions = new JsonArray();
        var weights = new List<double>();
        for (var i = 0; i < targets.Count; i++)
        {
            if (!served.TryGetValue(targets[i], out var source))
            {
                rejected.Add(new(name, $"canary target '{targets[i]}' is not an endpoint of this serving service; skipped"));
                continue;
            }
            var copy = (JsonObject)source.DeepClone();
            copy.Remove("auto_update");
            copy.Remove("added");
            copy["version"] = versions.Count + 1;
            copy["source"] = targets[i];
            versions.Add(copy);
            weights.Add(canary.Weights[i]);
        }
        var total = weights.Sum();
        for (var i = 0; i < versions.Count; i++)
            versions[i]!["weight"] = total > 0 ? weights[i] / total : 1.0 / versions.Count;
        return versions;
    }

    private static string SortKey(string url)
    {
        var slash = url.LastIndexOf('/');
        return long.TryParse(url[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? url[..slash] + "/" + n.ToString("D12", CultureInfo.InvariantCulture)
            : url;
    }

    /// <summary>A version that was already there keeps the time it was added, so an unchanged import writes nothing.</summary>
    private void KeepAdded(JsonArray versions, StoredDoc? existing)
    {
        var before = (existing?.Body["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        foreach (var v in versions.OfType<JsonObject>())
        {
            var same = before.FirstOrDefault(b => Json.GetLong(b["version"]) == Json.GetLong(v["version"]) && Json.GetString(b, "model") == Json.GetString(v, "model"));
            v["added"] = same?["added"]?.DeepClone() ?? Json.Timestamp(clock.GetUtcNow());
        }
    }

    private async Task StoreAsync(string company, StoredDoc task, ImportedEndpoint endpoint, JsonArray versions, JsonObject? rule, StoredDoc? existing, CancellationToken ct)
    {
        var next = versions.OfType<JsonObject>().Select(v => (Json.GetLong(v["version"]) ?? 0) + 1).DefaultIfEmpty(1).Max();
        void Apply(JsonObject body)
        {
            body["versions"] = versions.DeepClone();
            body["next_version"] = Math.Max(next, Json.GetLong(body["next_version"]) ?? 1);
            body["control_plane"] = task.Id;
            if (endpoint.Canary is not null)
                body["control_plane_canary"] = true;
            else
                body.Remove("control_plane_canary");
            if (rule is null)
                body.Remove("auto_update");
            else
                body["auto_update"] = rule.DeepClone();
            if (endpoint.Metrics.Count == 0)
                body.Remove("metrics");
            else
                body["metrics"] = endpoint.Metrics.DeepClone();
        }
        if (existing is null)
        {
            var now = Json.Timestamp(clock.GetUtcNow());
            var body = new JsonObject
            {
                ["id"] = ImportedId(task.Id, endpoint.Name),
                ["name"] = endpoint.Name,
                ["user"] = Json.GetString(task.Body, "user") ?? "",
                ["company"] = company,
                ["created"] = now,
                ["last_update"] = now,
                ["public"] = false,
                ["keys"] = new JsonArray(),
            };
            Apply(body);
            // Another replica importing at the same time inserts the same id; one of the two is enough.
            await docs.InsertAsync(Collection.ServingEndpoints, ImportedId(task.Id, endpoint.Name), body, ct);
            return;
        }
        var changed = (JsonObject)existing.Body.DeepClone();
        Apply(changed);
        if (JsonNode.DeepEquals(changed, existing.Body))
            return;
        await docs.UpdateAsync(Collection.ServingEndpoints, existing.Id, body =>
        {
            Apply(body);
            body["last_update"] = Json.Timestamp(clock.GetUtcNow());
        }, null, ct);
    }

    /// <summary>The same endpoint of the same task gets the same id on every replica.</summary>
    public static string ImportedId(string taskId, string name) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(taskId + "/" + name)))[..32];

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Serving service {TaskId}: '{Name}' is not imported: {Reason}")]
        public static partial void Rejected(ILogger logger, string taskId, string name, string reason);

        [LoggerMessage(Level = LogLevel.Information, Message = "Serving service {TaskId} imported: {Endpoints} endpoints, {Rejected} not taken")]
        public static partial void Imported(ILogger logger, string taskId, int endpoints, int rejected);
    }
}
