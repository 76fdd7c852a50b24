using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Agent;
using Slipway.Client;

namespace Slipway.Autoscaler.Tests;

/// <summary>One-time enrollment tokens against a real server: good once, never after use or expiry, and revoked with the launch.</summary>
public sealed class EnrollmentTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private SlipwayClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _admin = _server.NewClient();
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<string> TokenAsync(string launch, int seconds = 600) =>
        (await _admin.CallAsync("autoscaler.create_enrollment", new JsonObject
        {
            ["scaler"] = "enr", ["launch_id"] = launch, ["worker_prefix"] = $"enr:gpu:{launch}", ["expires_in_sec"] = seconds,
        }))["token"]!.GetValue<string>();

    private Task<AgentEnrollment.Credentials> EnrollAsync(string token) =>
        AgentEnrollment.ExchangeAsync(_server.Server.ApiUrl, token, "i-0abc", TimeSpan.FromSeconds(5), default);

    private SlipwayClient ClientOf(AgentEnrollment.Credentials keys) => new(new ClientOptions
    {
        ApiServer = _server.Server.ApiUrl, AccessKey = keys.AccessKey, SecretKey = keys.SecretKey, MaxRetries = 0,
    });

    [Fact]
    public async Task A_token_is_exchanged_once_for_a_member_key_of_its_own_and_refused_after()
    {
        var token = await TokenAsync("l1");
        var keys = await EnrollAsync(token);
        Assert.Equal("enr:gpu:l1", keys.WorkerPrefix);
        using (var agent = ClientOf(keys))
        {
            Assert.NotNull(await agent.Queues.ListAsync());
            await agent.CallAsync("workers.register", new JsonObject { ["worker"] = "enr:gpu:l1:cpu:0" });
            // It runs anyone's task of its tenant (an admin's, in no project) and manages nothing, not even keys of its own.
            var task = (await _admin.CallAsync("tasks.create", new JsonObject { ["name"] = "admins", ["type"] = "training" }))["id"]!.GetValue<string>();
            Assert.Equal("admins", (await agent.Tasks.GetAsync(task)).Name);
            await agent.CallAsync("tasks.edit", new JsonObject { ["task"] = task, ["comment"] = "touched by the agent" });
            foreach (var endpoint in new[] { "autoscaler.get_all", "auth.create_credentials", "users.create" })
            {
                var refused = await Assert.ThrowsAsync<SlipwayException>(() => agent.CallAsync(endpoint, endpoint == "users.create" ? new JsonObject { ["name"] = "x" } : []));
                Assert.Equal(403, refused.ResultCode);
            }
        }

        var again = await Assert.ThrowsAsync<SlipwayException>(() => EnrollAsync(token));
        Assert.Equal(401, again.ResultCode);
        Assert.Contains("already used", again.Message, StringComparison.Ordinal);
        var forged = await Assert.ThrowsAsync<SlipwayException>(() => EnrollAsync(token[..^4] + "AAAA"));
        Assert.Contains("unknown enrollment token", forged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_token_is_refused()
    {
        var token = await TokenAsync("l2", seconds: 1);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // past its expiry, which the server set one second after it was made
        var e = await Assert.ThrowsAsync<SlipwayException>(() => EnrollAsync(token));
        Assert.Equal(401, e.ResultCode);
        Assert.Contains("expired", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoking_the_launch_ends_its_key_and_its_unused_token()
    {
        var keys = await EnrollAsync(await TokenAsync("l3"));
        var unused = await TokenAsync("l4");
        var revoked = await _admin.CallAsync("autoscaler.revoke_launch", new JsonObject { ["scaler"] = "enr", ["launch_ids"] = new JsonArray("l3", "l4") });
        Assert.Equal(2, revoked["revoked"]!.GetValue<int>());
        using var agent = ClientOf(keys);
        var e = await Assert.ThrowsAsync<SlipwayException>(() => agent.Queues.ListAsync());
        Assert.Equal(401, e.ResultCode);
        Assert.Contains("unknown enrollment token", (await Assert.ThrowsAsync<SlipwayException>(() => EnrollAsync(unused))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_admins_make_tokens_and_a_bad_lifetime_is_a_validation_error()
    {
        var user = (await _admin.CallAsync("users.create", new JsonObject { ["name"] = "m", ["role"] = "member" }))["id"]!.GetValue<string>();
        var created = (await _admin.CallAsync("auth.create_credentials", new JsonObject { ["user"] = user }))["credentials"]!;
        using var member = new SlipwayClient(new ClientOptions
        {
            ApiServer = _server.Server.ApiUrl, AccessKey = created["access_key"]!.GetValue<string>(), SecretKey = created["secret_key"]!.GetValue<string>(), MaxRetries = 0,
        });
        var forbidden = await Assert.ThrowsAsync<SlipwayException>(() => member.CallAsync("autoscaler.create_enrollment",
            new JsonObject { ["scaler"] = "enr", ["launch_id"] = "x", ["worker_prefix"] = "enr:gpu:x", ["expires_in_sec"] = 60 }));
        Assert.Equal(403, forbidden.ResultCode);
        var invalid = await Assert.ThrowsAsync<SlipwayException>(() => _admin.CallAsync("autoscaler.create_enrollment",
            new JsonObject { ["scaler"] = "enr", ["launch_id"] = "x", ["worker_prefix"] = "enr:gpu:x", ["expires_in_sec"] = 0 }));
        Assert.Equal(400, invalid.ResultCode);
        Assert.Contains("expires_in_sec", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_agent_with_a_used_token_stops_with_a_clear_message_and_prints_no_token()
    {
        var token = await TokenAsync("l5");
        await EnrollAsync(token);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "slipway.dll"), "agent", "--enroll-server", _server.Server.ApiUrl.ToString(), "--queue", "default" })
            start.ArgumentList.Add(arg);
        start.Environment["SLIPWAY_ENROLLMENT_TOKEN"] = token;
        foreach (var key in new[] { "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY", "CLEARML_API_HOST" })
            start.Environment.Remove(key);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(3, process.ExitCode);
        Assert.Contains("already used", error, StringComparison.Ordinal);
        Assert.DoesNotContain(token, error + await output, StringComparison.Ordinal);
    }
}
