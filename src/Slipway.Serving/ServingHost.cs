using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Serving.Python;

namespace Slipway.Serving;

/// <summary>
/// The inference host: Kestrel answering the Open Inference Protocol (KServe V2) REST API and clearml-serving's
/// <c>/serve</c> URLs for the endpoints the server configures, with a key per endpoint, request size limits, canary routing
/// and Prometheus metrics. It keeps nothing of its own: any number of hosts can serve the same endpoints.
/// </summary>
public sealed class ServingHost : IAsyncDisposable
{
    // Open Inference Protocol extensions this host implements, named in the server metadata answer.
    private static readonly string[] V2Extensions = ["binary_tensor_data"];

    public const string KeyHeader = "X-Slipway-Key";
    private readonly WebApplication _app;
    private readonly SlipwayClient _client;
    private readonly ILogger _logger;
    private readonly ServingMetrics _metrics;
    private readonly SemaphoreSlim _shadowSlots = new(Math.Max(4, Environment.ProcessorCount * 2));

    private ServingHost(WebApplication app, SlipwayClient client, EndpointWatcher watcher, ServingMetrics metrics, ILogger logger, string containerId)
    {
        _app = app;
        _client = client;
        Watcher = watcher;
        _metrics = metrics;
        _logger = logger;
        RequestLog = new RequestLog(client, containerId, logger);
    }

    public EndpointWatcher Watcher { get; }

    /// <summary>The sampled requests on their way to dataset versions.</summary>
    public RequestLog RequestLog { get; }

    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    public static async Task<ServingHost> StartAsync(ServingOptions options, ClientOptions server, Action<ILoggingBuilder>? logging = null, CancellationToken ct = default)
    {
        options.Validate();
        if (options.OnnxRuntimeLibrary is { } library)
            OnnxDevice.UseLibrary(library);
        // No appsettings files: without this the host watches the working directory, recursively, for changes to them.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        if (logging is not null)
            logging(builder.Logging);
        else
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.UseKestrel(k =>
        {
            // Each endpoint enforces its own limit while reading; this is only the ceiling.
            k.Limits.MaxRequestBodySize = null;
            k.AddServerHeader = false;
        });
        builder.WebHost.UseUrls($"http://{options.Host}:{options.Port}");
        // The exporter is wired before the app is built, the watcher whose versions it reads after (it needs the logger).
        EndpointWatcher? watcher = null;
        var metrics = new ServingMetrics(() => watcher?.Versions ?? []);
        metrics.AddTo(builder.Services);
        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Slipway.Serving");
        var client = new SlipwayClient(server);
        watcher = new EndpointWatcher(client, options, logger);
        var host = new ServingHost(app, client, watcher, metrics, logger, options.ContainerId);
        host.Map(app);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        host.Url = new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        watcher.EndpointUrl = options.PublicUrl ?? host.Url.ToString().TrimEnd('/');
        watcher.Start();
        host.RequestLog.Start();
        ServingLog.Listening(logger, host.Url.ToString(), options.ContainerId);
        ServingLog.Runtime(logger, OnnxDevice.RuntimeVersion(), string.Join(", ", OnnxDevice.AvailableProviders()), options.Device.ToString());
        return host;
    }

    /// <summary>Waits until the first configuration is applied and no version is loading (what /v2/health/ready reports).</summary>
    public bool Ready => Watcher.Table.Configured && Watcher.Versions.All(v => v.State != VersionState.Loading);

    private void Map(WebApplication app)
    {
        app.MapGet("/health", () => Results.Text("OK"));
        app.MapGet("/v2/health/live", () => Results.Json(new Dictionary<string, bool> { ["live"] = true }));
        app.MapGet("/v2/health/ready", () => Ready
            ? Results.Json(new Dictionary<string, bool> { ["ready"] = true })
            : Results.Json(new Dictionary<string, bool> { ["ready"] = false }, statusCode: 503));
        app.MapGet("/v2", () => Results.Json(new Dictionary<string, object>
        {
            ["name"] = "slipway",
            ["version"] = typeof(ServingHost).Assembly.GetName().Version?.ToString() ?? "0",
            ["extensions"] = V2Extensions,
        }));
        app.MapGet("/v2/models/{name}", (HttpContext http, string name) => Metadata(http, name, null));
        app.MapGet("/v2/models/{name}/versions/{version}", (HttpContext http, string name, string version) => Metadata(http, name, version));
        app.MapGet("/v2/models/{name}/ready", (HttpContext http, string name) => ModelReady(http, name, null));
        app.MapGet("/v2/models/{name}/versions/{version}/ready", (HttpContext http, string name, string version) => ModelReady(http, name, version));
        app.MapPost("/v2/models/{name}/infer", (HttpContext http, string name) => InferAsync(http, name, null, Protocol.V2));
        app.MapPost("/v2/models/{name}/versions/{version}/infer", (HttpContext http, string name, string version) => InferAsync(http, name, version, Protocol.V2));
        app.MapPost("/serve/{endpoint}", (HttpContext http, string endpoint) => InferAsync(http, endpoint, null, Protocol.Serve));
        app.MapPost("/serve/{endpoint}/{version}", (HttpContext http, string endpoint, string version) => InferAsync(http, endpoint, version, Protocol.Serve));
        _metrics.Map(app);
    }

    private enum Protocol { V2, Serve }

    /// <summary>Where a Python-engine answer leaves what its code collected, for the endpoint's metric rule.</summary>
    private const string CustomStatisticsItem = "slipway.custom_statistics";

    /// <summary>Set when the endpoint's metric rule leaves this request out: Python code gets no statistics function for it.</summary>
    private const string NotSampledItem = "slipway.not_sampled";

    /// <summary>A refusal: the status and message, in the protocol's error shape.</summary>
    private sealed class Refusal(int status, string message) : Exception(message)
    {
        public int Status { get; } = status;
    }

    private static Task Error(HttpContext http, Protocol protocol, int status, string message)
    {
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(new Dictionary<string, string> { [protocol == Protocol.Serve ? "detail" : "error"] = message });
    }

    private EndpointRoute Authorize(HttpContext http, string name)
    {
        var route = Watcher.Table.Find(name) ?? throw new Refusal(404, $"no endpoint named '{name}'");
        if (route.Public)
            return route;
        var key = PresentedKey(http.Request) ?? throw new Refusal(401, $"endpoint '{name}' needs a key: Authorization: Bearer <key> or {KeyHeader}: <key>");
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        if (!route.KeyHashes.Contains(hash))
            throw new Refusal(401, $"the key is not valid for endpoint '{name}' (revoked, or another endpoint's)");
        return route;
    }

    private static string? PresentedKey(HttpRequest request)
    {
        if (request.Headers[KeyHeader] is { Count: > 0 } given && given[0] is { Length: > 0 } key)
            return key;
        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Length > 7 ? authorization[7..].Trim() : null;
    }

    private static ServedVersion Choose(EndpointRoute route, string? version, HttpRequest request)
    {
        if (version is null)
        {
            var sticky = route.StickyHeader is { } header && request.Headers[header] is { Count: > 0 } values && values[0] is { Length: > 0 } value ? value : null;
            return (sticky is null ? route.Pick(Random.Shared) : route.Pick(EndpointRoute.StickyPoint(sticky))) ?? throw new Refusal(503, route.Versions.Count == 0
                ? $"endpoint '{route.Name}' has no version"
                : $"endpoint '{route.Name}' has no version ready ({string.Join("; ", route.Versions.Select(v => Describe(v.Version)))})");
        }
        if (!long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            throw new Refusal(404, $"'{version}' is not a version number");
        var found = route.Find(number) ?? throw new Refusal(404, $"endpoint '{route.Name}' has no version {number}");
        return found.State == VersionState.Ready ? found : throw new Refusal(503, Describe(found));
    }

    private static string Describe(ServedVersion v) =>
        v.State == VersionState.Failed
            ? v.Engine == ServedVersion.Python ? $"version {v.Number} failed: {v.Reason}" : $"version {v.Number} failed to load: {v.Reason}"
            : $"version {v.Number} is {v.State.ToString().ToLowerInvariant()}";

    private async Task Metadata(HttpContext http, string name, string? version)
    {
        try
        {
            var route = Authorize(http, name);
            var chosen = Choose(route, version, http.Request);
            var model = chosen.Model;
            await http.Response.WriteAsJsonAsync(new Dictionary<string, object>
            {
                ["name"] = route.Name,
                ["versions"] = route.Versions.Select(v => v.Version.Number.ToString(CultureInfo.InvariantCulture)).ToArray(),
                // A Python-engine version takes whatever its preprocess() accepts: it declares no tensors.
                ["platform"] = model is null ? "python" : "onnx_onnxv1",
                ["inputs"] = model?.Inputs.Select(Spec).ToArray() ?? [],
                ["outputs"] = model?.Outputs.Select(Spec).ToArray() ?? [],
            });
        }
        catch (Refusal r)
        {
            Refused(name, r.Status);
            await Error(http, Protocol.V2, r.Status, r.Message);
        }
    }

    private static Dictionary<string, object> Spec(TensorSpec spec) => new() { ["name"] = spec.Name, ["datatype"] = spec.Datatype, ["shape"] = spec.Shape };

    private async Task ModelReady(HttpContext http, string name, string? version)
    {
        try
        {
            var route = Authorize(http, name);
            bool ready;
            try
            {
                Choose(route, version, http.Request);
                ready = true;
            }
            catch (Refusal)
            {
                ready = false;
            }
            http.Response.StatusCode = ready ? 200 : 503;
            await http.Response.WriteAsJsonAsync(new Dictionary<string, object> { ["name"] = name, ["ready"] = ready });
        }
        catch (Refusal r)
        {
            Refused(name, r.Status);
            await Error(http, Protocol.V2, r.Status, r.Message);
        }
    }

    private async Task InferAsync(HttpContext http, string name, string? version, Protocol protocol)
    {
        var clock = Stopwatch.StartNew();
        ServedVersion? served = null;
        byte[]? rented = null;
        var length = 0;
        var failed = true;
        EndpointRoute? logged = null;
        MetricRule? measured = null;
        var response = http.Response.Body;
        MemoryStream? answer = null;
        try
        {
            var route = Authorize(http, name);
            (rented, length) = await ReadBodyAsync(http.Request, route.MaxRequestBytes);
            var buffer = rented;
            if (RequestLog.Sampled(route.Log))
            {
                // A sampled request's answer is kept as it is written, for the request log.
                logged = route;
                answer = new MemoryStream();
                http.Response.Body = new TeeStream(response, answer);
            }
            // A version retired between the pick and the count-in is skipped: the next table has its successor.
            for (var attempt = 0; served is null; attempt++)
            {
                var candidate = Choose(attempt == 0 ? route : Watcher.Table.Find(name) ?? route, version, http.Request);
                if (candidate.TryAcquire())
                    served = candidate;
                else if (attempt > 20)
                    throw new Refusal(503, $"endpoint '{name}' is changing versions; try again");
            }
            // A request the version's metric rule samples keeps its answer too, to read the rule's variables from it.
            // Without a rule every request is measured (custom statistics); with one, its log frequency decides.
            if (route.Metrics.Count > 0 && MetricRule.For(route.Metrics, served.Number) is { } rule)
            {
                if (rule.Samples(Random.Shared))
                {
                    measured = rule;
                    if (answer is null)
                    {
                        answer = new MemoryStream();
                        http.Response.Body = new TeeStream(response, answer);
                    }
                }
                else
                {
                    http.Items[NotSampledItem] = true;
                }
            }
            try
            {
                var body = buffer.AsMemory(0, length);
                await AnswerAsync(http, route, served, body, protocol);
                failed = false;
                if (route.Shadows.Count > 0 && version is null)
                    StartShadows(route, served, body, protocol, http.Request.Headers);
            }
            finally
            {
                served.Release();
            }
        }
        catch (Refusal r)
        {
            Refused(name, r.Status);
            await Error(http, protocol, r.Status, r.Message);
        }
        catch (BadRequestException e)
        {
            await Error(http, protocol, e.Status, e.Message);
        }
        catch (PythonCodeException e)
        {
            // As clearml-serving: a ValueError is the caller's input (422), anything else the code's failure (500).
            ServingLog.InferenceFailed(_logger, name, served?.Number ?? 0, e.Message + "\n" + e.PythonTraceback);
            await Error(http, protocol, e.PythonType == "ValueError" ? 422 : 500, $"Error [{e.PythonType}] processing request in {e.Stage}: {e.PythonMessage}");
        }
        catch (WorkerTimeoutException e)
        {
            ServingLog.InferenceFailed(_logger, name, served?.Number ?? 0, e.Message);
            await Error(http, protocol, 504, $"endpoint '{name}' version {served?.Number}: {e.Message}");
        }
        catch (WorkerUnavailableException e)
        {
            ServingLog.InferenceFailed(_logger, name, served?.Number ?? 0, e.Message);
            await Error(http, protocol, 503, $"endpoint '{name}' version {served?.Number}: {e.Message}");
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or NotSupportedException)
        {
            ServingLog.InferenceFailed(_logger, name, served?.Number ?? 0, e.Message);
            await Error(http, protocol, protocol == Protocol.Serve ? 422 : 500, $"inference failed: {e.Message}");
        }
        finally
        {
            if (measured is not null && served is not null && !failed)
            {
                served.Metrics.Record(measured, rented.AsSpan(0, length), answer!.GetBuffer().AsSpan(0, (int)answer.Length),
                    http.Items[CustomStatisticsItem] as JsonElement?);
            }
            http.Response.Body = response;
            if (logged is not null)
            {
                RequestLog.Record(logged, logged.Log!, served?.Number ?? 0, rented.AsSpan(0, length), answer!.GetBuffer().AsSpan(0, (int)answer.Length),
                    http.Response.StatusCode, clock.Elapsed);
            }
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
            if (served is not null)
                _metrics.RecordRequest(served, clock.Elapsed, failed);
        }
    }

    private static Task AnswerAsync(HttpContext http, EndpointRoute route, ServedVersion served, ReadOnlyMemory<byte> body, Protocol protocol) =>
        served.Engine == ServedVersion.Python ? AnswerPythonAsync(http, route, served, body, protocol)
        : protocol == Protocol.V2 || LooksLikeV2(body) ? AnswerV2Async(http, route, served, body)
        : AnswerServeAsync(http, served, body);

    /// <summary>
    /// Sends a copy of an answered request to each of the route's shadow versions (each by its share), after the answer and
    /// on its own: the shadow's answer only counts in its statistics (requests, errors, latency). Copies beyond a bound in
    /// flight are dropped and counted, so a slow candidate never holds up the live one.
    /// </summary>
    private void StartShadows(EndpointRoute route, ServedVersion answered, ReadOnlyMemory<byte> body, Protocol protocol, IHeaderDictionary headers)
    {
        var headerLength = headers["Inference-Header-Content-Length"].ToString();
        var contentType = headers.ContentType.ToString();
        foreach (var (shadow, share) in route.Shadows)
        {
            if (shadow == answered || shadow.State != VersionState.Ready || Random.Shared.NextDouble() >= share)
                continue;
            if (!_shadowSlots.Wait(0))
            {
                _metrics.RecordShadowDropped();
                continue;
            }
            if (!shadow.TryAcquire())
            {
                _shadowSlots.Release();
                continue;
            }
            var copy = body.ToArray();
            _ = Task.Run(async () =>
            {
                var clock = Stopwatch.StartNew();
                var failed = true;
                try
                {
                    var context = new DefaultHttpContext();
                    context.Response.Body = Stream.Null;
                    if (headerLength.Length > 0)
                        context.Request.Headers["Inference-Header-Content-Length"] = headerLength;
                    if (contentType.Length > 0)
                        context.Request.ContentType = contentType;
                    await AnswerAsync(context, route, shadow, copy, protocol);
                    failed = false;
                }
                catch (Exception e)
                {
                    // The copy's failure is the candidate's to report, never the caller's.
                    ServingLog.InferenceFailed(_logger, route.Name + " (shadow)", shadow.Number, e.Message);
                }
                finally
                {
                    shadow.Release();
                    _shadowSlots.Release();
                    _metrics.RecordRequest(shadow, clock.Elapsed, failed);
                }
            });
        }
    }

    private static async Task AnswerV2Async(HttpContext http, EndpointRoute route, ServedVersion served, ReadOnlyMemory<byte> body)
    {
        int? headerLength = null;
        if (http.Request.Headers["Inference-Header-Content-Length"] is { Count: > 0 } header)
        {
            if (!int.TryParse(header[0], NumberStyles.None, CultureInfo.InvariantCulture, out var h))
                throw new BadRequestException("Inference-Header-Content-Length must be a whole number");
            headerLength = h;
        }
        var model = served.Model!;
        var request = headerLength == 0 ? V2Codec.Raw(body, model.Inputs) : V2Codec.Parse(body, headerLength);
        model.Validate(request.Inputs);
        V2Codec.CheckOutputs(request, model.Outputs);
        var outputs = await served.InferAsync(request.Inputs, http.RequestAborted);
        var writer = new ArrayBufferWriter<byte>(1024);
        var jsonLength = V2Codec.WriteResponse(writer, route.Name, served.Number.ToString(CultureInfo.InvariantCulture), request.Id, outputs, request);
        if (jsonLength is { } length)
        {
            http.Response.Headers["Inference-Header-Content-Length"] = length.ToString(CultureInfo.InvariantCulture);
            http.Response.ContentType = "application/octet-stream";
        }
        else
        {
            http.Response.ContentType = "application/json";
        }
        http.Response.ContentLength = writer.WrittenCount;
        await http.Response.Body.WriteAsync(writer.WrittenMemory, http.RequestAborted);
    }

    /// <summary>
    /// A Python-engine version: the body goes to its worker as clearml-serving hands it to preprocess() (a dict for a JSON
    /// body, bytes otherwise; V2 requests are JSON), and postprocess()'s return value is the answer (JSON, or raw bytes when
    /// it returns bytes). A V2 answer that holds "outputs" gets the protocol's model_name, model_version and id.
    /// </summary>
    private static async Task AnswerPythonAsync(HttpContext http, EndpointRoute route, ServedVersion served, ReadOnlyMemory<byte> body, Protocol protocol)
    {
        if (protocol == Protocol.V2 && http.Request.Headers.ContainsKey("Inference-Header-Content-Length"))
            throw new BadRequestException("a Python-engine endpoint takes a JSON body; binary tensor data is for ONNX-engine endpoints");
        var json = protocol == Protocol.V2 || IsJson(http.Request.ContentType);
        var worker = served.Worker ?? throw new WorkerUnavailableException("the Python worker is not running");
        var answer = await worker.CallAsync(body, json, http.RequestAborted, sampled: !http.Items.ContainsKey(NotSampledItem));
        if (answer.Statistics is { } statistics)
        {
            served.Custom.Record(statistics);
            http.Items[CustomStatisticsItem] = statistics;
        }
        http.Response.Headers["X-Slipway-Python-Ns"] = answer.PythonNanoseconds.ToString(CultureInfo.InvariantCulture);
        var result = answer.Result;
        if (answer.IsJson && protocol == Protocol.V2 && System.Text.Json.Nodes.JsonNode.Parse(result) is System.Text.Json.Nodes.JsonObject v2 && v2.ContainsKey("outputs"))
        {
            v2["model_name"] ??= route.Name;
            v2["model_version"] ??= served.Number.ToString(CultureInfo.InvariantCulture);
            if (!v2.ContainsKey("id") && RequestId(body) is { } id)
                v2["id"] = id;
            result = JsonSerializer.SerializeToUtf8Bytes(v2);
        }
        http.Response.ContentType = answer.IsJson ? "application/json" : "application/octet-stream";
        http.Response.ContentLength = result.Length;
        await http.Response.Body.WriteAsync(result, http.RequestAborted);
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || contentType.Contains("+json", StringComparison.OrdinalIgnoreCase));

    private static string? RequestId(ReadOnlyMemory<byte> body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>clearml-serving's body for a model without pre-processing code: {"input name": nested array, ...}; the answer is {"output name": nested array}.</summary>
    private static async Task AnswerServeAsync(HttpContext http, ServedVersion served, ReadOnlyMemory<byte> body)
    {
        var model = served.Model!;
        List<TensorData> inputs;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new BadRequestException($"the body must be a JSON object of inputs ({string.Join(", ", model.Inputs.Select(i => i.Name))})");
            inputs = [];
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                var spec = model.Inputs.FirstOrDefault(i => i.Name == property.Name)
                           ?? throw new BadRequestException($"unexpected input '{property.Name}' (the model takes {string.Join(", ", model.Inputs.Select(i => i.Name))})");
                var shape = TensorJson.ShapeOf(property.Value, spec.Name);
                inputs.Add(new TensorData(spec.Name, spec.Datatype, shape, TensorJson.Read(property.Value, spec.Datatype, TensorData.Elements(shape), spec.Name)));
            }
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"the body is not JSON: {e.Message}", 422);
        }
        model.Validate(inputs);
        var outputs = await served.InferAsync(inputs, http.RequestAborted);
        var writer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(writer))
        {
            json.WriteStartObject();
            foreach (var output in outputs)
            {
                json.WritePropertyName(output.Name);
                TensorJson.WriteNested(json, output);
            }
            json.WriteEndObject();
        }
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = writer.WrittenCount;
        await http.Response.Body.WriteAsync(writer.WrittenMemory, http.RequestAborted);
    }

    private static bool LooksLikeV2(ReadOnlyMemory<byte> body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("inputs", out var inputs) && inputs.ValueKind == JsonValueKind.Array;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Reads the body into a pooled buffer, refusing (413) anything over the endpoint's limit before reading it.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpRequest request, long limit)
    {
        if (request.ContentLength is { } declared && declared > limit)
            throw new Refusal(413, $"the body of {declared} bytes is over this endpoint's limit of {limit} bytes");
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 4096, limit) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > limit)
                        throw new Refusal(413, $"the body is over this endpoint's limit of {limit} bytes");
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await request.Body.ReadAsync(buffer.AsMemory(length), request.HttpContext.RequestAborted);
                if (read == 0)
                    break;
                length += read;
                if (length > limit)
                    throw new Refusal(413, $"the body is over this endpoint's limit of {limit} bytes");
            }
            return (buffer, length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private void Refused(string endpoint, int status)
    {
        // Unknown names are counted under one label so a scan of made-up names cannot grow the metrics without bound.
        var label = Watcher.Table.Find(endpoint) is null ? "(unknown)" : endpoint;
        _metrics.RecordRefused(label, status);
    }

    internal static string Escape(string label) => label.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>Completes when the host is asked to stop (Ctrl-C, SIGTERM) or <paramref name="ct"/> is cancelled.</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _app.StopAsync();
        await RequestLog.DisposeAsync();
        await Watcher.DisposeAsync();
        await _app.DisposeAsync();
        _client.Dispose();
        _metrics.Dispose();
    }
}
