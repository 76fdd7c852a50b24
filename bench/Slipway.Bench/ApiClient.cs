using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Slipway.Bench;

/// <summary>A ClearML-style API client over loopback HTTP: POST {api}/service.action with a JSON (or json-lines) body.</summary>
public sealed class ApiClient : IDisposable
{
    private static readonly MediaTypeHeaderValue JsonType = new("application/json");
    private static readonly MediaTypeHeaderValue LinesType = new("application/json-lines");
    private readonly HttpClient _http;

    private ApiClient(HttpClient http, string token)
    {
        _http = http;
        Token = token;
    }

    /// <summary>The Bearer token, for the file server.</summary>
    public string Token { get; }

    public static async Task<ApiClient> LoginAsync(Uri api, string accessKey, string secretKey, int maxConnections = 8)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(1, maxConnections),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
        var http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromMinutes(5) };
        using (var login = new HttpRequestMessage(HttpMethod.Get, "auth.login"))
        {
            login.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{accessKey}:{secretKey}")));
            using var response = await http.SendAsync(login);
            var data = Data(await response.Content.ReadAsStringAsync(), "auth.login");
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", data["token"]!.GetValue<string>());
        }
        return new ApiClient(http, http.DefaultRequestHeaders.Authorization!.Parameter!);
    }

    /// <summary>Calls an endpoint and returns the envelope's data; throws unless result_code is 200.</summary>
    public async Task<JsonObject> CallAsync(string endpoint, JsonObject? body = null)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes((body ?? []).ToJsonString()));
        content.Headers.ContentType = JsonType;
        using var response = await _http.PostAsync(endpoint, content);
        return Data(await response.Content.ReadAsStringAsync(), endpoint);
    }

    /// <summary>Posts a json-lines body (events.add_batch) and returns the envelope's data.</summary>
    public async Task<JsonObject> PostLinesAsync(string endpoint, ReadOnlyMemory<byte> lines)
    {
        using var content = new ReadOnlyMemoryContent(lines);
        content.Headers.ContentType = LinesType;
        using var response = await _http.PostAsync(endpoint, content);
        return Data(await response.Content.ReadAsStringAsync(), endpoint);
    }

    /// <summary>
    /// The timed form: posts pre-encoded JSON and drains the whole response without parsing it (the HTTP status is
    /// the envelope's result_code); returns the elapsed Stopwatch ticks.
    /// </summary>
    public async Task<long> TimedPostAsync(string endpoint, byte[] body, byte[] sink)
    {
        var start = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = JsonType;
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using (var stream = await response.Content.ReadAsStreamAsync())
        {
            while (await stream.ReadAsync(sink) > 0)
            {
            }
        }
        var elapsed = Stopwatch.GetTimestamp() - start;
        if (response.StatusCode != HttpStatusCode.OK)
            throw new InvalidOperationException($"{endpoint} answered HTTP {(int)response.StatusCode}");
        return elapsed;
    }

    private static JsonObject Data(string text, string endpoint)
    {
        var envelope = JsonNode.Parse(text) as JsonObject ?? throw new InvalidOperationException($"{endpoint}: not a JSON object: {Trim(text)}");
        var code = envelope["meta"]?["result_code"]?.GetValue<int>() ?? 0;
        if (code != 200)
            throw new InvalidOperationException($"{endpoint}: result_code {code}: {envelope["meta"]?["result_msg"]}");
        return envelope["data"] as JsonObject ?? [];
    }

    private static string Trim(string s) => s.Length > 300 ? s[..300] + "…" : s;

    public void Dispose() => _http.Dispose();
}
