using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Agent;

/// <summary>
/// An autoscaled instance's first call: it trades the one-time enrollment token of its boot script for a key pair of its
/// own (<c>autoscaler.enroll</c>, the one call that needs no key). The key lives in this process only; nothing is written
/// to disk or printed. A refused token (used, expired, unknown) fails at once; an unreachable server is retried while the
/// instance boots.
/// </summary>
public static class AgentEnrollment
{
    public sealed record Credentials(string AccessKey, string SecretKey, string? WorkerPrefix);

    public static async Task<Credentials> ExchangeAsync(Uri server, string token, string? instanceId, TimeSpan patience, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var endpoint = new Uri(server.ToString().TrimEnd('/') + "/autoscaler.enroll");
        var body = new JsonObject { ["token"] = token };
        if (instanceId is { Length: > 0 })
            body["instance_id"] = instanceId;
        var deadline = DateTime.UtcNow + patience;
        var delay = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            string failure;
            try
            {
                using var response = await http.PostAsJsonAsync(endpoint, body, ct).ConfigureAwait(false);
                var envelope = await response.Content.ReadFromJsonAsync<JsonObject>(ct).ConfigureAwait(false);
                var meta = envelope?["meta"] as JsonObject;
                var code = meta?["result_code"]?.GetValue<int>() ?? (int)response.StatusCode;
                var message = meta?["result_msg"]?.GetValue<string>() ?? response.ReasonPhrase ?? "error";
                if (code == 200 && envelope?["data"]?["credentials"] is JsonObject credentials
                    && credentials["access_key"]?.GetValue<string>() is { } access && credentials["secret_key"]?.GetValue<string>() is { } secret)
                    return new Credentials(access, secret, envelope["data"]?["worker_prefix"]?.GetValue<string>());
                if (code is >= 400 and < 500)
                    throw new SlipwayException("autoscaler.enroll", (int)response.StatusCode, code, meta?["result_subcode"]?.GetValue<int>() ?? 0, $"enrollment refused: {message}");
                failure = $"{code} {message}";
            }
            catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                failure = e.Message;
            }
            if (DateTime.UtcNow + delay > deadline)
                throw new SlipwayException($"could not enroll with {server}: {failure}");
            await Task.Delay(delay, ct).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
        }
    }
}
