using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Serving.Python;

namespace Slipway.Serving;

/// <summary>
/// Follows the server's endpoint configuration: polls it (see <see cref="ServingOptions.PollInterval"/>), loads new versions in
/// the background, publishes a new routing table once a version answers its warm-up, retires removed versions after they
/// drain, and reports states and statistics back. A version that fails to load is marked failed with the reason; the others
/// keep their state and their traffic.
/// </summary>
public sealed class EndpointWatcher(SlipwayClient client, ServingOptions options, ILogger logger) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ServedVersion> _versions = new(StringComparer.Ordinal);
    // Removed versions that still answer because their endpoint has no other version ready yet (an auto-update that keeps
    // one version removes the old one in the same change that adds the new one).
    private readonly Dictionary<string, ServedVersion> _outgoing = new(StringComparer.Ordinal);
    private readonly List<Task> _background = [];
    private readonly SemaphoreSlim _reportNow = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, (long Requests, long Errors, TimeSpan Latency)> _reported = new(StringComparer.Ordinal);
    private readonly HostStats _host = new();
    private JsonArray _config = [];
    private string? _revision;
    private RoutingTable _table = RoutingTable.Empty;
    private DateTime _lastReport = DateTime.UtcNow;
    private Task? _poll;
    private Task? _report;
    private readonly Lock _runnerLock = new();
    private string? _runner;

    public RoutingTable Table => Volatile.Read(ref _table);

    /// <summary>Every version this host knows, for metrics.</summary>
    public IReadOnlyList<ServedVersion> Versions
    {
        get
        {
            lock (_lock)
                return [.. _versions.Values, .. _outgoing.Values];
        }
    }

    public string EndpointUrl { get; set; } = "";

    public void Start()
    {
        _poll = Task.Run(() => PollLoopAsync(_stop.Token));
        _report = Task.Run(() => ReportLoopAsync(_stop.Token));
    }

    private async Task PollLoopAsync(CancellationToken ct)
    {
        var failing = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var config = await client.CallAsync("serving.get_host_config", [], ct);
                if (failing)
                    failing = false;
                var revision = config["revision"]?.GetValue<string>();
                if (revision != _revision || !Table.Configured)
                {
                    Apply(config["endpoints"] as JsonArray ?? []);
                    _revision = revision;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SlipwayException or HttpRequestException or TimeoutException)
            {
                if (!failing)
                    ServingLog.ServerUnreachable(logger, "serving.get_host_config", e.Message);
                failing = true;
            }
            try
            {
                await Task.Delay(options.PollInterval, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Starts loading what is new, retires what is gone, and publishes the table for what is there.</summary>
    private void Apply(JsonArray endpoints)
    {
        var retired = new List<ServedVersion>();
        lock (_lock)
        {
            _config = (JsonArray)endpoints.DeepClone();
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (var endpoint in endpoints.OfType<JsonObject>())
            {
                var endpointId = endpoint["id"]?.GetValue<string>() ?? "";
                var name = endpoint["name"]?.GetValue<string>() ?? "";
                foreach (var v in (endpoint["versions"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    var served = new ServedVersion(endpointId, name, v["version"]?.GetValue<long>() ?? 0, v["model"]?.GetValue<string>() ?? "",
                        v["model_uri"]?.GetValue<string>() ?? "", EngineOf(v), v["preprocess_uri"]?.GetValue<string>() ?? "",
                        v["requirements"]?.GetValue<string>() ?? "");
                    wanted.Add(served.Key);
                    if (_versions.ContainsKey(served.Key))
                        continue;
                    _versions[served.Key] = served;
                    var batching = (Size: endpoint["max_batch_size"]?.GetValue<long>() ?? 0, Delay: endpoint["max_queue_delay_ms"]?.GetValue<long>() ?? 2);
                    _background.Add(Task.Run(() => LoadAsync(served, batching.Size, TimeSpan.FromMilliseconds(batching.Delay))));
                }
            }
            foreach (var key in _versions.Keys.Where(k => !wanted.Contains(k)).ToList())
            {
                var version = _versions[key];
                _versions.Remove(key);
                if (version.State == VersionState.Ready)
                    _outgoing[key] = version;
                else
                    retired.Add(version);
            }
            retired.AddRange(Publish());
            _background.RemoveAll(t => t.IsCompleted);
            Retire(retired);
        }
        if (retired.Count > 0)
            _reportNow.Release();
    }

    /// <summary>Drains and closes versions in the background. Called under the lock.</summary>
    private void Retire(List<ServedVersion> versions)
    {
        foreach (var version in versions)
        {
            _background.Add(Task.Run(async () =>
            {
                await version.RetireAsync(options.DrainTimeout);
                ServingLog.Drained(logger, version.EndpointName, version.Number);
            }));
        }
    }

    /// <summary>
    /// Builds the routing table from the last configuration and the versions' current states, and returns the outgoing
    /// versions it no longer needs (their endpoint has another version ready, or is gone). Called under the lock.
    /// </summary>
    private List<ServedVersion> Publish()
    {
        var done = new List<ServedVersion>();
        var present = _config.OfType<JsonObject>().Select(e => e["id"]?.GetValue<string>() ?? "").ToHashSet(StringComparer.Ordinal);
        foreach (var (key, version) in _outgoing.ToList())
        {
            if (!present.Contains(version.EndpointId) || _versions.Values.Any(v => v.EndpointId == version.EndpointId && v.State == VersionState.Ready))
            {
                _outgoing.Remove(key);
                done.Add(version);
            }
        }
        var routes = new Dictionary<string, EndpointRoute>(StringComparer.Ordinal);
        foreach (var endpoint in _config.OfType<JsonObject>())
        {
            var id = endpoint["id"]?.GetValue<string>() ?? "";
            var name = endpoint["name"]?.GetValue<string>() ?? "";
            var versions = new List<(ServedVersion, double)>();
            var shadows = new List<(ServedVersion, double)>();
            foreach (var v in (endpoint["versions"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var key = ServedVersion.KeyOf(id, v["version"]?.GetValue<long>() ?? 0, v["model_uri"]?.GetValue<string>() ?? "", EngineOf(v),
                    v["preprocess_uri"]?.GetValue<string>() ?? "");
                if (!_versions.TryGetValue(key, out var served))
                    continue;
                // A shadow takes no live traffic, whatever its weight: it is reachable by its number, and gets copies.
                var shadow = v["shadow"]?.GetValue<double>() ?? 0;
                versions.Add((served, shadow > 0 ? 0 : v["weight"]?.GetValue<double>() ?? 0));
                if (shadow > 0)
                    shadows.Add((served, shadow));
            }
            // An outgoing version has no weight: it answers only while none of the configured ones is ready.
            foreach (var outgoing in _outgoing.Values.Where(o => o.EndpointId == id))
                versions.Add((outgoing, 0));
            var hashes = (endpoint["keys"] as JsonArray ?? []).OfType<JsonObject>().Select(k => k["hash"]?.GetValue<string>()).OfType<string>().ToHashSet(StringComparer.Ordinal);
            routes[name] = new EndpointRoute(id, name, endpoint["public"]?.GetValue<bool>() ?? false, hashes,
                endpoint["max_request_bytes"]?.GetValue<long>() ?? options.MaxRequestBytes, versions)
            {
                StickyHeader = endpoint["sticky_header"]?.GetValue<string>() is { Length: > 0 } header ? header : null,
                Shadows = shadows,
                Log = RequestLogSettings.From(endpoint["request_log"], name),
                Metrics = MetricRule.Parse(endpoint["metrics"]),
            };
        }
        Volatile.Write(ref _table, new RoutingTable(routes, true));
        return done;
    }

    private static string EngineOf(JsonObject version) => version["engine"]?.GetValue<string>() ?? ServedVersion.Onnx;

    private async Task LoadAsync(ServedVersion version, long maxBatch, TimeSpan maxDelay)
    {
        ServingLog.Loading(logger, version.EndpointName, version.Number, version.ModelId);
        var clock = Stopwatch.StartNew();
        try
        {
            if (version.Engine == ServedVersion.Python)
            {
                await StartPythonAsync(version, clock);
                return;
            }
            var path = await DownloadAsync(version.ModelId, version.ModelUri);
            var model = OnnxModel.Load(path, maxBatch > 1 ? options.BatchIntraOpThreads : options.IntraOpThreads, options.Device);
            if (model.DeviceNote.Length > 0)
                ServingLog.DeviceFallback(logger, version.EndpointName, version.Number, model.DeviceNote);
            try
            {
                // Warm-up: the first run allocates the runtime's buffers and plans; traffic comes only after it answers.
                model.Run(model.ZeroInputs());
            }
            catch
            {
                model.Dispose();
                throw;
            }
            // Half the cores run batches; the others parse requests and write answers, which is what fills the next batch.
            var batcher = maxBatch > 1 ? new Batcher(model, (int)maxBatch, maxDelay, Math.Max(1, Environment.ProcessorCount / 2)) : null;
            lock (_lock)
            {
                if (_versions.TryGetValue(version.Key, out var current) && current == version)
                {
                    version.SetReady(model, batcher);
                    Retire(Publish());
                }
                else
                {
                    batcher?.DisposeAsync().AsTask().Wait();
                    model.Dispose();
                    return;
                }
            }
            ServingLog.Ready(logger, version.EndpointName, version.Number, model.Device.Name, clock.ElapsedMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            var reason = e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException ? $"the model file is not a valid ONNX model: {e.Message}" : e.Message;
            version.SetFailed(reason);
            ServingLog.LoadFailed(logger, version.EndpointName, version.Number, reason);
        }
        _reportNow.Release();
    }

    /// <summary>
    /// A Python-engine version: its model file and preprocess code downloaded, its environment prepared, then a supervised
    /// worker that marks the version ready each time a worker has loaded the code, and failed (with the reason) whenever one
    /// dies or the code does not load.
    /// </summary>
    private async Task StartPythonAsync(ServedVersion version, Stopwatch clock)
    {
        if (version.PreprocessUri.Length == 0)
            throw new InvalidOperationException("a Python-engine version needs preprocess code (preprocess_uri), none is bound to it");
        var model = await DownloadAsync(version.ModelId, version.ModelUri);
        var code = await DownloadAsync("preprocess", version.PreprocessUri);
        var python = await PythonEnvironment.PrepareAsync(options.Python, version.Requirements, Path.Combine(options.CacheFolder, "venvs"),
            line => WorkerLog.Environment(logger, version.EndpointName, version.Number, line), _stop.Token);
        var worker = new PythonWorker(python, RunnerPath(), code, model, version, options, logger, loaded =>
        {
            lock (_lock)
            {
                // A removed version still answering (its endpoint has no other ready) comes back too after a restart.
                var current = _versions.GetValueOrDefault(version.Key) ?? _outgoing.GetValueOrDefault(version.Key);
                if (current != version)
                    return;
                version.SetReady();
                Retire(Publish());
            }
            ServingLog.Ready(logger, version.EndpointName, version.Number, "python", clock.ElapsedMilliseconds);
            _reportNow.Release();
        }, reason =>
        {
            version.SetFailed(reason);
            ServingLog.LoadFailed(logger, version.EndpointName, version.Number, reason);
            _reportNow.Release();
        });
        if (!version.Attach(worker))
        {
            await worker.DisposeAsync();
            return;
        }
        worker.Start();
    }

    private string RunnerPath()
    {
        lock (_runnerLock)
            return _runner ??= RunnerScript.Extract(options.CacheFolder);
    }

    private async Task<string> DownloadAsync(string id, string location)
    {
        if (location.Length == 0)
            throw new InvalidOperationException($"model {id} has no file, or this host's credentials may not read it");
        if (!Uri.TryCreate(location, UriKind.Absolute, out var uri))
            throw new InvalidOperationException($"{(id == "preprocess" ? "the preprocess code" : $"model {id}")} has an unusable uri '{location}'");
        if (uri.IsFile)
            return File.Exists(uri.LocalPath) ? uri.LocalPath : throw new FileNotFoundException($"file {uri.LocalPath} is not on this machine");
        var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(location)))[..16];
        var path = Path.Combine(options.CacheFolder, $"{id}-{key}", Uri.UnescapeDataString(uri.Segments[^1]));
        if (!File.Exists(path))
            await client.Files.DownloadAsync(uri, path, null, _stop.Token);
        return path;
    }

    private async Task ReportLoopAsync(CancellationToken ct)
    {
        try
        {
            await client.CallAsync("serving.register_container", new JsonObject { ["container_id"] = options.ContainerId, ["endpoint_url"] = EndpointUrl }, ct);
        }
        catch (SlipwayException e)
        {
            ServingLog.ServerUnreachable(logger, "serving.register_container", e.Message);
        }
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _reportNow.WaitAsync(options.ReportInterval, ct);
                await ReportAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SlipwayException or HttpRequestException)
            {
                ServingLog.ServerUnreachable(logger, "serving.container_status_report", e.Message);
            }
        }
    }

    /// <summary>Sends each version's state and what it served since the last report.</summary>
    public async Task ReportAsync(CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        var minutes = Math.Max((now - _lastReport).TotalMinutes, 1e-6);
        var list = new JsonArray();
        foreach (var version in Versions)
        {
            var stats = version.Stats;
            var (requests, errors, latency) = (stats.Requests, stats.Errors, stats.TotalLatency);
            var before = _reported.GetValueOrDefault(version.Key);
            var served = requests - before.Requests;
            list.Add(new JsonObject
            {
                ["endpoint"] = version.EndpointId,
                ["version"] = version.Number,
                ["state"] = version.State.ToString().ToLowerInvariant(),
                ["reason"] = version.Reason,
                ["device"] = version.Model?.Device.Name ?? (version.Engine == ServedVersion.Python ? "python" : ""),
                ["requests"] = served,
                ["errors"] = errors - before.Errors,
                ["requests_min"] = served / minutes,
                ["latency_ms"] = served > 0 ? (latency - before.Latency).TotalMilliseconds / served : 0,
            });
            if (!version.Custom.IsEmpty)
                ((JsonObject)list[^1]!)["custom"] = version.Custom.ToJson();
            _reported[version.Key] = (requests, errors, latency);
        }
        _lastReport = now;
        await client.CallAsync("serving.container_status_report", new JsonObject
        {
            ["container_id"] = options.ContainerId,
            ["endpoint_url"] = EndpointUrl,
            ["versions"] = list,
            ["machine_stats"] = _host.Sample(),
        }, ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var task in new[] { _poll, _report }.OfType<Task>())
        {
            try
            {
                await task;
            }
            catch (OperationCanceledException)
            {
            }
        }
        try
        {
            await client.CallAsync("serving.unregister_container", new JsonObject { ["container_id"] = options.ContainerId }, CancellationToken.None);
        }
        catch (Exception e) when (e is SlipwayException or HttpRequestException)
        {
            ServingLog.ServerUnreachable(logger, "serving.unregister_container", e.Message);
        }
        List<Task> background;
        lock (_lock)
            background = [.. _background];
        try
        {
            await Task.WhenAll(background);
        }
        catch (OperationCanceledException)
        {
            // A download cut short by the stop: nothing to keep.
        }
        foreach (var version in Versions)
            await version.RetireAsync(TimeSpan.Zero);
        _stop.Dispose();
        _reportNow.Dispose();
    }
}
