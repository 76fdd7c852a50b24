using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Slipway.Commands;

/// <summary>
/// How the CLI commands reach the server, found the way the SDK finds it (CLEARML_* variables, then
/// clearml.conf); logged in with the key pair. The .NET client library will take this over.
/// </summary>
public sealed partial class ApiConnection : IDisposable
{
    private readonly HttpClient _http;

    private ApiConnection(HttpClient http) => _http = http;

    /// <summary>Connects and logs in; throws <see cref="InvalidOperationException"/> with what is missing or wrong.</summary>
    public static async Task<ApiConnection> OpenAsync(string? confPath, CancellationToken ct)
    {
        confPath ??= Environment.GetEnvironmentVariable("CLEARML_CONFIG_FILE")
                     ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".slipway", "clearml.conf");
        var text = File.Exists(confPath) ? File.ReadAllText(confPath) : "";
        string? FromConf(Regex pattern) => pattern.Match(text) is { Success: true } m ? m.Groups[1].Value : null;
        var api = Environment.GetEnvironmentVariable("CLEARML_API_HOST") ?? FromConf(ApiServer());
        var access = Environment.GetEnvironmentVariable("CLEARML_API_ACCESS_KEY") ?? FromConf(AccessKey());
        var secret = Environment.GetEnvironmentVariable("CLEARML_API_SECRET_KEY") ?? FromConf(SecretKey());
        if (api is null || access is null || secret is null)
            throw new InvalidOperationException("no server or credentials; set CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY, or pass --conf");
        var connection = new ApiConnection(new HttpClient { BaseAddress = new Uri(api.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(10) });
        connection._http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{access}:{secret}")));
        var token = (await connection.CallAsync("auth.login", new JsonObject(), ct))["token"]!.GetValue<string>();
        connection._http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return connection;
    }

    /// <summary>Calls an endpoint; returns its data, or throws with the server's message.</summary>
    public async Task<JsonNode> CallAsync(string endpoint, JsonObject body, CancellationToken ct)
    {
        try
        {
            using var response = await _http.PostAsJsonAsync(endpoint, body, ct);
            var envelope = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"{endpoint}: {envelope["meta"]?["result_msg"]}");
            return envelope["data"]!;
        }
        catch (HttpRequestException e)
        {
            throw new InvalidOperationException($"cannot reach the server at {_http.BaseAddress}: {e.Message}", e);
        }
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex(@"api_server:\s*(\S+)")]
    private static partial Regex ApiServer();

    [GeneratedRegex("\"access_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex AccessKey();

    [GeneratedRegex("\"secret_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex SecretKey();
}
