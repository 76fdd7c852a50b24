using System.Net;
using System.Text.Json.Nodes;

namespace Slipway.Agent;

/// <summary>
/// Reads EC2's spot interruption notice through IMDSv2: a session token (PUT <c>/latest/api/token</c>), then
/// <c>GET /latest/meta-data/spot/instance-action</c>, which answers 404 until EC2 has decided to reclaim the instance and
/// then <c>{"action": "terminate", "time": "…"}</c>, about two minutes ahead.
/// </summary>
internal sealed class SpotNotice(HttpClient http, Uri address)
{
    // Relative paths resolve under the address's own path only when it ends with a slash.
    private readonly Uri imds = address.AbsoluteUri.EndsWith('/') ? address : new Uri(address.AbsoluteUri + "/");
    private static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(10);
    private string? _token;
    private DateTime _tokenExpires;

    /// <summary>The notice as a sentence, or null while there is none. Throws <see cref="HttpRequestException"/> when IMDS cannot be read.</summary>
    public async Task<string?> CheckAsync(CancellationToken ct)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var token = await TokenAsync(ct).ConfigureAwait(false);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(imds, "latest/meta-data/spot/instance-action"));
            request.Headers.Add("X-aws-ec2-metadata-token", token);
            using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
                return null;
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                // The token expired early (IMDS restarted): one fresh one.
                _token = null;
                continue;
            }
            response.EnsureSuccessStatusCode();
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            return Describe(text);
        }
        throw new HttpRequestException("IMDS refused a fresh session token");
    }

    private async Task<string> TokenAsync(CancellationToken ct)
    {
        if (_token is { } cached && DateTime.UtcNow < _tokenExpires)
            return cached;
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(imds, "latest/api/token")) { Content = new ByteArrayContent([]) };
        request.Headers.Add("X-aws-ec2-metadata-token-ttl-seconds", ((int)TokenLifetime.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        _token = (await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).Trim();
        // Renewed well before IMDS would refuse it.
        _tokenExpires = DateTime.UtcNow + TokenLifetime / 2;
        return _token;
    }

    /// <summary>A person's sentence for the notice; an answer that is not the documented JSON is still a notice, quoted.</summary>
    internal static string Describe(string body)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject notice && notice["action"]?.GetValue<string>() is { Length: > 0 } action)
                return $"spot interruption notice: EC2 will {action} this instance" + (notice["time"]?.GetValue<string>() is { Length: > 0 } time ? $" at {time}" : "");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
        }
        var quoted = body.Length > 200 ? body[..200] : body;
        return $"spot interruption notice: {quoted.Trim()}";
    }

    /// <summary>The IMDS address an agent uses: --imds, else SLIPWAY_IMDS, else EC2's link-local one.</summary>
    public static Uri DefaultAddress =>
        Environment.GetEnvironmentVariable("SLIPWAY_IMDS") is { Length: > 0 } url && Uri.TryCreate(url, UriKind.Absolute, out var parsed)
            ? parsed
            : new Uri("http://169.254.169.254/");
}
