using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client;

/// <summary>
/// A connection to a Slipway (or ClearML) server: signs in with the key pair, re-signs in when the token
/// expires, retries transient failures with backoff, and gives typed access to tasks, projects, queues,
/// models, datasets and the file server. Thread-safe; share one per process.
/// </summary>
public sealed class SlipwayClient : IDisposable
{
    /// <summary>The API version the client speaks (the path prefix of every call).</summary>
    public const string ApiVersion = "2.23";

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly SemaphoreSlim _loginGate = new(1, 1);
    private string? _token;

    /// <summary>Creates a client; nothing is sent until the first call.</summary>
    public SlipwayClient(ClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _ownsHttp = options.HttpClient is null;
        _http = options.HttpClient ?? new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.All,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _token = options.AuthToken;
        Tasks = new TasksClient(this);
        Projects = new ProjectsClient(this);
        Queues = new QueuesClient(this);
        Models = new ModelsClient(this);
        Datasets = new Datasets.DatasetsClient(this);
        Files = new FilesClient(this, _http);
    }

    /// <summary>Creates a client from <c>CLEARML_*</c> variables or the configuration file; see <see cref="ClientOptions.FromEnvironment"/>.</summary>
    public static SlipwayClient FromEnvironment(string? configFile = null) => new(ClientOptions.FromEnvironment(configFile));

    /// <summary>The settings this client was made with.</summary>
    public ClientOptions Options { get; }

    /// <summary>Tasks (experiments): find, read, clone, enqueue, abort, reset, and read what they reported.</summary>
    public TasksClient Tasks { get; }

    /// <summary>Projects.</summary>
    public ProjectsClient Projects { get; }

    /// <summary>Execution queues.</summary>
    public QueuesClient Queues { get; }

    /// <summary>The model registry.</summary>
    public ModelsClient Models { get; }

    /// <summary>Dataset versions, readable and writable by the ClearML Python SDK as well.</summary>
    public Datasets.DatasetsClient Datasets { get; }

    /// <summary>The file server: uploads and downloads with progress.</summary>
    public FilesClient Files { get; }

    /// <summary>
    /// Calls an API endpoint (e.g. <c>tasks.get_all</c>) with a JSON body and returns the envelope's <c>data</c>.
    /// </summary>
    /// <exception cref="SlipwayException">The server answered with an error, or it could not be reached after the retries.</exception>
    public async Task<JsonObject> CallAsync(string endpoint, JsonObject body, CancellationToken cancellationToken = default)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        var data = await SendAsync(endpoint, bytes, "application/json", cancellationToken).ConfigureAwait(false);
        return data as JsonObject ?? [];
    }

    /// <summary>Sends a pre-serialized body; used by the event batcher to avoid building JSON nodes.</summary>
    internal async Task<JsonNode?> SendAsync(string endpoint, ReadOnlyMemory<byte> body, string contentType, CancellationToken ct)
    {
        using var activity = ClientTelemetry.Source.StartActivity(endpoint, ActivityKind.Client);
        activity?.SetTag("rpc.method", endpoint);
        var startedAt = Stopwatch.GetTimestamp();
        var relogged = false;
        for (var attempt = 0; ; attempt++)
        {
            var token = await GetTokenAsync(ct).ConfigureAwait(false);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Options.ApiServer, $"v{ApiVersion}/{endpoint}"));
            request.Content = new ReadOnlyMemoryContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.TryAddWithoutValidation("X-ClearML-Worker", Options.WorkerName);
            var outcome = await TrySendAsync(endpoint, request, ct).ConfigureAwait(false);
            if (outcome.Exception is { ResultCode: 401 } && !relogged && Options.AccessKey is not null)
            {
                relogged = true;
                ClientTelemetry.Relogins.Add(1);
                await ReloginAsync(token, ct).ConfigureAwait(false);
                continue;
            }
            if (outcome.Transient is null)
            {
                if (outcome.Exception is { } error)
                {
                    ClientTelemetry.Record(activity, endpoint, startedAt, error.ResultCode.ToString(System.Globalization.CultureInfo.InvariantCulture), error.ResultCode);
                    throw error;
                }
                ClientTelemetry.Record(activity, endpoint, startedAt, "ok", 200);
                return outcome.Data;
            }
            if (attempt >= Options.MaxRetries)
            {
                ClientTelemetry.Record(activity, endpoint, startedAt, "unreachable", null);
                throw new SlipwayException($"{endpoint}: the server at {Options.ApiServer} did not answer after {attempt + 1} attempts: {outcome.Transient}");
            }
            ClientTelemetry.Retries.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint));
            await Task.Delay(RetryDelay(attempt), ct).ConfigureAwait(false);
        }
    }

    internal TimeSpan RetryDelay(int attempt)
    {
        var ms = Math.Min(Options.RetryMaxDelay.TotalMilliseconds, Options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, attempt));
        return TimeSpan.FromMilliseconds(ms * (0.75 + Random.Shared.NextDouble() * 0.5));
    }

    private readonly record struct Outcome(JsonNode? Data, SlipwayException? Exception, string? Transient);

    private async Task<Outcome> TrySendAsync(string endpoint, HttpRequestMessage request, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.RequestTimeout);
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.TooManyRequests)
                return new Outcome(null, null, $"HTTP {(int)response.StatusCode}");
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            JsonNode? envelope;
            try
            {
                envelope = JsonNode.Parse(bytes);
            }
            catch (JsonException)
            {
                return new Outcome(null, new SlipwayException(endpoint, (int)response.StatusCode, (int)response.StatusCode, 0,
                    $"the server answered HTTP {(int)response.StatusCode} with a body that is not JSON"), null);
            }
            var meta = envelope?["meta"];
            var code = meta?["result_code"]?.GetValue<int>() ?? (int)response.StatusCode;
            if (code is >= 200 and < 300 && response.IsSuccessStatusCode)
                return new Outcome(envelope?["data"], null, null);
            return new Outcome(null, new SlipwayException(endpoint, (int)response.StatusCode, code,
                meta?["result_subcode"]?.GetValue<int>() ?? 0, meta?["result_msg"]?.GetValue<string>() ?? response.ReasonPhrase ?? "error"), null);
        }
        catch (HttpRequestException e)
        {
            return new Outcome(null, null, e.Message);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new Outcome(null, null, $"no answer within {Options.RequestTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>The current token, signing in first if there is none.</summary>
    internal async ValueTask<string> GetTokenAsync(CancellationToken ct)
    {
        if (_token is { } token)
            return token;
        await ReloginAsync(null, ct).ConfigureAwait(false);
        return _token!;
    }

    private async Task ReloginAsync(string? staleToken, CancellationToken ct)
    {
        await _loginGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_token is not null && _token != staleToken)
                return; // another caller signed in meanwhile
            if (Options.AccessKey is null || Options.SecretKey is null)
                throw new SlipwayException("no credentials: set CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY, or api.credentials in clearml.conf");
            for (var attempt = 0; ; attempt++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Options.ApiServer, $"v{ApiVersion}/auth.login"));
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                    Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Options.AccessKey}:{Options.SecretKey}")));
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                var outcome = await TrySendAsync("auth.login", request, ct).ConfigureAwait(false);
                if (outcome.Exception is { } error)
                    throw error;
                if (outcome.Transient is null)
                {
                    _token = outcome.Data?["token"]?.GetValue<string>() ?? throw new SlipwayException("auth.login: the answer has no token");
                    return;
                }
                if (attempt >= Options.MaxRetries)
                    throw new SlipwayException($"cannot reach the server at {Options.ApiServer}: {outcome.Transient}");
                await Task.Delay(RetryDelay(attempt), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _loginGate.Release();
        }
    }

    /// <summary>Closes the connection (an injected <see cref="HttpClient"/> is left open).</summary>
    public void Dispose()
    {
        if (_ownsHttp)
            _http.Dispose();
        _loginGate.Dispose();
    }
}
