using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Slipway.Server.Tests.Infrastructure;

/// <summary>An API reply: the HTTP status and the parsed envelope.</summary>
public sealed record Reply(int Status, JsonObject Envelope)
{
    public JsonObject Data => (JsonObject)Envelope["data"]!;
    public int Code => Envelope["meta"]!["result_code"]!.GetValue<int>();
    public int Subcode => Envelope["meta"]!["result_subcode"]!.GetValue<int>();
    public string Message => Envelope["meta"]!["result_msg"]!.GetValue<string>();
}

/// <summary>Talks to a server as the SDK does: GET with a JSON body to /v2.23/service.action, a Bearer token.</summary>
public sealed class ApiClient(Uri api, string? token) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };

    public string? Token { get; } = token;

    public async Task<Reply> CallAsync(string endpoint, object? body = null, HttpMethod? method = null, string version = "v2.23", CancellationToken ct = default)
    {
        var json = body switch
        {
            null => "{}",
            string s => s,
            JsonNode node => node.ToJsonString(),
            _ => System.Text.Json.JsonSerializer.Serialize(body),
        };
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, version.Length == 0 ? endpoint : $"{version}/{endpoint}")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        return await SendAsync(request, ct);
    }

    public async Task<Reply> SendAsync(HttpRequestMessage request, CancellationToken ct = default)
    {
        if (Token is not null && request.Headers.Authorization is null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        var envelope = JsonNode.Parse(text) as JsonObject ?? throw new InvalidOperationException($"not an envelope: {text}");
        return new Reply((int)response.StatusCode, envelope);
    }

    /// <summary>Calls and requires 200; returns data.</summary>
    public async Task<JsonObject> OkAsync(string endpoint, object? body = null)
    {
        var reply = await CallAsync(endpoint, body);
        Assert.True(reply.Status == 200, $"{endpoint} answered {reply.Status} {reply.Code}/{reply.Subcode}: {reply.Message}");
        Assert.Equal(reply.Status, reply.Code);
        return reply.Data;
    }

    public async Task<Reply> AddBatchAsync(IEnumerable<JsonObject> events)
    {
        var lines = string.Join("\n", events.Select(e => e.ToJsonString()));
        using var request = new HttpRequestMessage(HttpMethod.Post, "events.add_batch")
        {
            Content = new StringContent(lines, Encoding.UTF8, "application/json-lines"),
        };
        return await SendAsync(request);
    }

    public void Dispose() => _http.Dispose();
}
