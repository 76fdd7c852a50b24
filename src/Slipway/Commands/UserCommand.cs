using System.CommandLine;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Slipway.Commands;

/// <summary>`slipway user add`: creates a user and a key pair through the API, as an admin.</summary>
public static partial class UserCommand
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "The new user's name", Required = true };
        var admin = new Option<bool>("--admin") { Description = "Give the user the admin role" };
        var conf = new Option<string?>("--conf") { Description = "clearml.conf with the admin's credentials (default: CLEARML_CONFIG_FILE, else ~/.slipway/clearml.conf)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var add = new Command("add", "Add a user with an access/secret key pair") { name, admin, conf, json };
        add.SetAction(async (parse, ct) =>
        {
            var (api, access, secret) = Connection(parse.GetValue(conf));
            if (api is null || access is null || secret is null)
            {
                Console.Error.WriteLine("slipway user add: no server or credentials; set CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY, or pass --conf");
                return 2;
            }
            using var http = new HttpClient { BaseAddress = new Uri(api.TrimEnd('/') + "/") };
            try
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{access}:{secret}")));
                var token = (await Call(http, "auth.login", new JsonObject(), ct))["token"]!.GetValue<string>();
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
                var user = (await Call(http, "users.create", new JsonObject { ["name"] = parse.GetValue(name), ["role"] = parse.GetValue(admin) ? "admin" : "user" }, ct))["id"]!.GetValue<string>();
                var keys = (await Call(http, "auth.create_credentials", new JsonObject { ["user"] = user }, ct))["credentials"]!;
                if (parse.GetValue(json))
                {
                    Console.WriteLine(new JsonObject { ["user"] = user, ["access_key"] = keys["access_key"]!.DeepClone(), ["secret_key"] = keys["secret_key"]!.DeepClone() }.ToJsonString());
                }
                else
                {
                    Console.WriteLine($"user        {user} ({parse.GetValue(name)})");
                    Console.WriteLine($"access_key  {keys["access_key"]}");
                    Console.WriteLine($"secret_key  {keys["secret_key"]}");
                }
                return 0;
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException)
            {
                Console.Error.WriteLine($"slipway user add: {e.Message}");
                return 1;
            }
        });
        var command = new Command("user", "Manage users and their keys") { add };
        return command;
    }

    private static async Task<JsonNode> Call(HttpClient http, string endpoint, JsonObject body, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync(endpoint, body, ct);
        var envelope = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{endpoint}: {envelope["meta"]?["result_msg"]}");
        return envelope["data"]!;
    }

    /// <summary>The server and credentials the way the SDK finds them: CLEARML_* variables, then the conf file.</summary>
    private static (string? Api, string? Access, string? Secret) Connection(string? confPath)
    {
        confPath ??= Environment.GetEnvironmentVariable("CLEARML_CONFIG_FILE")
                     ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".slipway", "clearml.conf");
        var text = File.Exists(confPath) ? File.ReadAllText(confPath) : "";
        string? FromConf(Regex pattern) => pattern.Match(text) is { Success: true } m ? m.Groups[1].Value : null;
        return (Environment.GetEnvironmentVariable("CLEARML_API_HOST") ?? FromConf(ApiServer()),
            Environment.GetEnvironmentVariable("CLEARML_API_ACCESS_KEY") ?? FromConf(AccessKey()),
            Environment.GetEnvironmentVariable("CLEARML_API_SECRET_KEY") ?? FromConf(SecretKey()));
    }

    [GeneratedRegex(@"api_server:\s*(\S+)")]
    private static partial Regex ApiServer();

    [GeneratedRegex("\"access_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex AccessKey();

    [GeneratedRegex("\"secret_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex SecretKey();
}
