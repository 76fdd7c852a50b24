using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Autoscaler.Tests;

/// <summary>The autoscaler.* endpoints: state survives, the log appends, bad input is a 400, members are refused.</summary>
public sealed class AutoscalerApiTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private SlipwayClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task The_state_is_read_back_as_written_through_the_server_connection()
    {
        var connection = new ServerConnection(_client);
        Assert.Null(await connection.LoadStateAsync("a1", default));
        var state = new AutoscalerState { SpentUsd = 1.25m, Month = "2026-12" };
        state.Instances.Add(new InstanceRecord { LaunchId = "l1", InstanceId = "i-1", Resource = "r", Status = InstanceStatus.Ready, Slots = 2 });
        state.Backoffs["t/*/spot"] = DateTimeOffset.UnixEpoch;
        await connection.SaveStateAsync("a1", state, default);
        state.SpentUsd = 2m;
        await connection.SaveStateAsync("a1", state, default);
        var read = await connection.LoadStateAsync("a1", default);
        Assert.NotNull(read);
        Assert.Equal(2m, read.SpentUsd);
        Assert.Equal(InstanceStatus.Ready, Assert.Single(read.Instances).Status);
        Assert.Equal(2, read.Instances[0].Slots);
        Assert.Single(read.Backoffs);
        var all = (await _client.CallAsync("autoscaler.get_all", []))["autoscalers"]!.AsArray();
        Assert.Equal("a1", Assert.Single(all)!["scaler"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_worker_whose_task_is_tagged_do_not_disrupt_is_read_as_such()
    {
        async Task<string> RunningAsync(string worker, params string[] tags)
        {
            var id = (await _client.CallAsync("tasks.create", new JsonObject
            {
                ["name"] = worker, ["type"] = "training", ["tags"] = new JsonArray(tags.Select(t => (JsonNode?)t).ToArray()),
            }))["id"]!.GetValue<string>();
            await _client.CallAsync("workers.status_report", new JsonObject { ["worker"] = worker, ["timestamp"] = 1, ["task"] = id });
            return id;
        }
        await RunningAsync("as:r:l1:cpu:0", "do_not_disrupt");
        await RunningAsync("as:r:l2:cpu:0", "other");
        await _client.CallAsync("workers.status_report", new JsonObject { ["worker"] = "as:r:l3:cpu:0", ["timestamp"] = 1 });
        var (_, workers) = await new ServerConnection(_client).ReadAsync(["default"], default);
        Assert.Equal(["as:r:l1:cpu:0"], workers.Where(w => w.DoNotDisrupt).Select(w => w.Id));
        Assert.Equal(3, workers.Count);
    }

    [Fact]
    public async Task Decisions_are_appended_and_read_newest_first()
    {
        var connection = new ServerConnection(_client);
        await connection.AppendLogAsync("a1", [new Decision(DecisionAction.Launch, Reasons.Demand, "r", "l1")], default);
        await connection.AppendLogAsync("a1", [new Decision(DecisionAction.Terminate, Reasons.Idle, "r", "l1", "i-1") { Tasks = ["t"] }], default);
        var events = (await _client.CallAsync("autoscaler.get_events", new JsonObject { ["scaler"] = "a1" }))["events"]!.AsArray();
        Assert.Equal(["terminate", "launch"], events.Select(e => e!["action"]!.GetValue<string>()));
        Assert.Equal("idle", events[0]!["reason"]!.GetValue<string>());
        Assert.Empty((await _client.CallAsync("autoscaler.get_events", new JsonObject { ["scaler"] = "other" }))["events"]!.AsArray());
    }

    [Theory]
    [InlineData("autoscaler.get_state", "{}")]
    [InlineData("autoscaler.get_state", """{"scaler": "a:b"}""")]
    [InlineData("autoscaler.set_state", """{"scaler": "a"}""")]
    [InlineData("autoscaler.set_state", """{"scaler": "a", "state": 3}""")]
    [InlineData("autoscaler.add_events", """{"scaler": "a", "events": [{"action": "launch"}]}""")]
    [InlineData("autoscaler.release_task", """{"task": "no-such-task", "worker": "w", "reason": "lost"}""")]
    [InlineData("autoscaler.hold_task", """{"task": "no-such-task", "message": "m"}""")]
    public async Task Bad_input_is_a_400(string endpoint, string body)
    {
        var e = await Assert.ThrowsAsync<SlipwayException>(() => _client.CallAsync(endpoint, JsonNode.Parse(body)!.AsObject()));
        Assert.Equal(400, e.ResultCode);
    }

    [Fact]
    public async Task A_task_not_running_on_the_named_worker_is_left_alone()
    {
        var id = (await _client.CallAsync("tasks.create", new JsonObject { ["name"] = "x", ["type"] = "training" }))["id"]!.GetValue<string>();
        var data = await _client.CallAsync("autoscaler.release_task", new JsonObject { ["task"] = id, ["worker"] = "w", ["requeue"] = true, ["reason"] = "lost" });
        Assert.False(data["released"]!.GetValue<bool>());
        Assert.Equal("created", (await _client.Tasks.GetAsync(id)).Status);
    }

    [Fact]
    public async Task A_task_held_back_says_why_in_its_status_message()
    {
        var id = (await _client.CallAsync("tasks.create", new JsonObject { ["name"] = "x", ["type"] = "training" }))["id"]!.GetValue<string>();
        var connection = new ServerConnection(_client);
        await connection.HoldTaskAsync(id, "budget: hourly cap $2/h reached", default);
        Assert.NotEqual("budget: hourly cap $2/h reached", (await _client.Tasks.GetAsync(id)).StatusMessage); // not queued: left alone
        await _client.Tasks.EnqueueAsync(id, "default");
        await connection.HoldTaskAsync(id, "budget: hourly cap $2/h reached", default);
        var task = await _client.Tasks.GetAsync(id);
        Assert.Equal("queued", task.Status);
        Assert.Equal("budget: hourly cap $2/h reached", task.StatusMessage);
    }

    [Fact]
    public async Task A_member_may_not_call_the_autoscaler_endpoints()
    {
        var user = (await _client.CallAsync("users.create", new JsonObject { ["name"] = "m", ["role"] = "member" }))["id"]!.GetValue<string>();
        var keys = (await _client.CallAsync("auth.create_credentials", new JsonObject { ["user"] = user }))["credentials"]!;
        var options = _server.Options();
        options.AccessKey = keys["access_key"]!.GetValue<string>();
        options.SecretKey = keys["secret_key"]!.GetValue<string>();
        using var member = new SlipwayClient(options);
        var e = await Assert.ThrowsAsync<SlipwayException>(() => member.CallAsync("autoscaler.get_all", []));
        Assert.Equal(403, e.ResultCode);
        // Nor drain a worker, not even its own.
        await member.CallAsync("workers.status_report", new JsonObject { ["worker"] = "m:cpu:0", ["timestamp"] = 1 });
        e = await Assert.ThrowsAsync<SlipwayException>(() =>
            member.CallAsync("autoscaler.drain_workers", new JsonObject { ["workers"] = new JsonArray("m:cpu:0"), ["reason"] = "x" }));
        Assert.Equal(403, e.ResultCode);
        var worker = (await _client.CallAsync("workers.get_all", []))["workers"]!.AsArray().Single(w => w!["id"]!.GetValue<string>() == "m:cpu:0");
        Assert.Null(worker!["drain_state"]);
    }
}
