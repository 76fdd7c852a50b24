using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public sealed class RpcAndAuthTests : ServerTests
{
    public RpcAndAuthTests() : base("sqlite")
    {
    }

    [Theory]
    [InlineData("GET", "v2.23")]
    [InlineData("POST", "v2.5")]
    [InlineData("PUT", "")]
    [InlineData("GET", "v9.99")]
    public async Task Every_method_and_version_prefix_reaches_the_same_endpoint(string method, string version)
    {
        var reply = await Api.CallAsync("projects.create", new JsonObject { ["name"] = "p" + method + version.Replace(".", "") }, new HttpMethod(method), version);
        Assert.Equal(200, reply.Status);
        var meta = reply.Envelope["meta"]!;
        Assert.Equal("projects.create", meta["endpoint"]!["name"]!.GetValue<string>());
        Assert.Equal(version.Length == 0 ? "2.31" : version[1..], meta["endpoint"]!["requested_version"]!.GetValue<string>());
        Assert.Equal(32, meta["id"]!.GetValue<string>().Length);
    }

    [Fact]
    public async Task Query_string_is_merged_into_the_body_with_types()
    {
        var reply = await Api.CallAsync("debug.ping?a=1&b=true&c.d=x&e[]=1&e[]=2&f=1.5", new JsonObject { ["z"] = "body" });
        Assert.Equal("""{"z":"body","a":1,"b":true,"c":{"d":"x"},"e":[1,2],"f":1.5,"msg":"ClearML server"}""", reply.Data.ToJsonString());
    }

    [Fact]
    public async Task Unknown_endpoints_and_errors_answer_an_envelope_with_empty_data()
    {
        var unknown = await Api.CallAsync("workers.get_runtime_properties", new JsonObject { ["worker"] = "w" }, version: "");
        Assert.Equal((404, 404), (unknown.Status, unknown.Code));
        Assert.Equal("{}", unknown.Envelope["data"]!.ToJsonString());
        var bad = await Api.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = "nope" });
        Assert.Equal((400, 101), (bad.Status, bad.Subcode));
        Assert.Equal("{}", bad.Envelope["data"]!.ToJsonString());
    }

    [Fact]
    public async Task Compressed_bodies_are_refused_with_415()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "projects.get_all") { Content = new ByteArrayContent([1, 2, 3]) };
        request.Content.Headers.ContentEncoding.Add("gzip");
        var reply = await Api.SendAsync(request);
        Assert.Equal(415, reply.Status);
    }

    [Fact]
    public async Task A_16_MB_request_is_accepted()
    {
        var task = await CreateTaskAsync("big");
        var lines = Enumerable.Range(0, 16_000).Select(i => new JsonObject
        {
            ["type"] = "log", ["task"] = task, ["level"] = "info", ["msg"] = new string('x', 1000), ["timestamp"] = 1_700_000_000_000 + i,
        }).ToList();
        var reply = await Api.AddBatchAsync(lines);
        Assert.Equal(200, reply.Status);
        Assert.Equal(16_000, reply.Data["added"]!.GetValue<int>());
    }

    [Fact]
    public async Task Login_returns_a_token_whose_claims_the_sdk_reads()
    {
        var token = await ServerUnderTest.LoginAsync(Server.Api, Server.Admin.AccessKey, Server.Admin.SecretKey);
        var payload = token.Split('.')[1];
        var claims = JsonNode.Parse(Convert.FromBase64String(payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=').Replace('-', '+').Replace('_', '/')))!;
        Assert.Equal("2.31", claims["api_version"]!.GetValue<string>());
        Assert.Equal("basic", claims["feature_set"]!.GetValue<string>());
        Assert.Equal("2.0.0", claims["server_version"]!.GetValue<string>());
        Assert.True(claims["exp"]!.GetValue<long>() > DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal("admin", claims["identity"]!["user_name"]!.GetValue<string>());
        Assert.Equal("HS256", JsonNode.Parse(Convert.FromBase64String(token.Split('.')[0] + "=="[..((4 - token.Split('.')[0].Length % 4) % 4)]))!["alg"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bad_credentials_and_tokens_get_401()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => ServerUnderTest.LoginAsync(Server.Api, Server.Admin.AccessKey, "wrong"));
        using var noToken = Server.ClientWithToken(null);
        Assert.Equal((401, 20), await StatusOf(noToken.CallAsync("projects.get_all")));
        using var badToken = Server.ClientWithToken("a.b.c");
        Assert.Equal((401, 30), await StatusOf(badToken.CallAsync("projects.get_all")));
        var forged = Api.Token![..^4] + (Api.Token[^4..] == "AAAA" ? "BBBB" : "AAAA");
        using var forgedClient = Server.ClientWithToken(forged);
        Assert.Equal((401, 30), await StatusOf(forgedClient.CallAsync("projects.get_all")));
    }

    [Fact]
    public async Task Only_login_ping_info_and_health_answer_without_a_token()
    {
        using var anonymous = Server.ClientWithToken(null);
        Assert.Equal(200, (await anonymous.CallAsync("server.info")).Status);
        Assert.Equal("2.31", (await anonymous.CallAsync("server.info")).Data["api_version"]!.GetValue<string>());
        Assert.Equal(200, (await anonymous.CallAsync("debug.ping")).Status);
        using var http = new HttpClient { BaseAddress = Server.Api };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("metrics")).StatusCode);
        foreach (var endpoint in new[] { "tasks.get_all", "queues.get_all", "events.add_batch", "users.get_current_user", "auth.create_credentials", "projects.create" })
            Assert.Equal(401, (await anonymous.CallAsync(endpoint)).Status);
    }

    [Fact]
    public async Task Prometheus_metrics_count_calls_per_endpoint()
    {
        await Api.OkAsync("projects.get_all");
        using var http = new HttpClient { BaseAddress = Server.Api };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Api.Token);
        var lines = (await http.GetStringAsync("metrics")).Split('\n');
        // Exactly this server's one call: the other servers this process runs count theirs on meters of the same name.
        Assert.Equal("1", Assert.Single(Samples(lines, "slipway_api_calls_total{", "endpoint=\"projects.get_all\"", "code=\"200\"")));
        Assert.Equal("1", Assert.Single(Samples(lines, "slipway_api_duration_seconds_count{", "endpoint=\"projects.get_all\"")));
        Assert.Contains(lines, l => l.StartsWith("slipway_queue_pending_tasks{queue=", StringComparison.Ordinal));
    }

    private static IEnumerable<string> Samples(IEnumerable<string> lines, string metric, params string[] labels) =>
        lines.Where(l => l.StartsWith(metric, StringComparison.Ordinal) && labels.All(x => l.Contains(x, StringComparison.Ordinal))).Select(l => l[(l.LastIndexOf(' ') + 1)..]);

    [Fact]
    public async Task Users_get_their_own_key_pairs_and_revoked_keys_stop_working()
    {
        var user = (await Api.OkAsync("users.create", new JsonObject { ["name"] = "bob" }))["id"]!.GetValue<string>();
        var keys = (await Api.OkAsync("auth.create_credentials", new JsonObject { ["user"] = user }))["credentials"]!;
        var bobToken = await ServerUnderTest.LoginAsync(Server.Api, keys["access_key"]!.GetValue<string>(), keys["secret_key"]!.GetValue<string>());
        using var bob = Server.ClientWithToken(bobToken);
        var me = await bob.OkAsync("users.get_current_user");
        Assert.Equal("bob", me["user"]!["name"]!.GetValue<string>());
        Assert.Equal((403, 0), await StatusOf(bob.CallAsync("users.create", new JsonObject { ["name"] = "mallory" })));
        var listed = await bob.OkAsync("auth.get_credentials");
        Assert.Equal(keys["access_key"]!.GetValue<string>(), listed["credentials"]![0]!["access_key"]!.GetValue<string>());
        Assert.Null(listed["credentials"]![0]!["secret_key"]);

        await bob.OkAsync("auth.revoke_credentials", new JsonObject { ["access_key"] = keys["access_key"]!.DeepClone() });
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            ServerUnderTest.LoginAsync(Server.Api, keys["access_key"]!.GetValue<string>(), keys["secret_key"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Secrets_are_stored_hashed()
    {
        await Server.StopAsync();
        var bytes = await File.ReadAllBytesAsync(Path.Combine(Server.DataDir, "slipway.db"));
        var wal = Path.Combine(Server.DataDir, "slipway.db-wal");
        if (File.Exists(wal))
            bytes = [.. bytes, .. await File.ReadAllBytesAsync(wal)];
        Assert.DoesNotContain(Server.Admin.SecretKey, Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        Assert.Contains(Server.Admin.SecretKey, await File.ReadAllTextAsync(Path.Combine(Server.DataDir, "clearml.conf")), StringComparison.Ordinal);
    }

    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
            // Secrets_are_stored_hashed stops the server itself.
        }
    }

    private static async Task<(int, int)> StatusOf(Task<Reply> call)
    {
        var reply = await call;
        return (reply.Status, reply.Subcode);
    }
}

/// <summary>Expiry needs a clock the test can move.</summary>
public sealed class TokenExpiryTests
{
    [Fact]
    public async Task An_expired_token_gets_401_30_and_a_fresh_login_works()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var server = await ServerUnderTest.StartAsync("sqlite", clock);
        Assert.Equal(200, (await server.Client.CallAsync("projects.get_all")).Status);
        clock.Advance(TimeSpan.FromDays(31));
        var expired = await server.Client.CallAsync("projects.get_all");
        Assert.Equal((401, 30), (expired.Status, expired.Subcode));
        var token = await ServerUnderTest.LoginAsync(server.Api, server.Admin.AccessKey, server.Admin.SecretKey);
        using var fresh = server.ClientWithToken(token);
        Assert.Equal(200, (await fresh.CallAsync("projects.get_all")).Status);
    }
}

public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
