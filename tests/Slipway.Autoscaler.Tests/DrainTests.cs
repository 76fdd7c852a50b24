using System.Text.Json.Nodes;
using Slipway.Agent;
using Slipway.Client;

namespace Slipway.Autoscaler.Tests;

/// <summary>
/// autoscaler.drain_workers against a real server: a drained worker is told so in its status report's answer, shows its
/// drain in workers.get_all, and queues.get_next_task hands it nothing, while other workers still get the task.
/// </summary>
public sealed class DrainTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private SlipwayClient _client = null!;
    private string _queue = "";

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
        _queue = await _client.Queues.CreateAsync("q");
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private static Task<JsonObject> ReportAsync(SlipwayClient client, string worker) =>
        client.CallAsync("workers.status_report", new JsonObject { ["worker"] = worker, ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });

    private Task<JsonObject> DrainAsync(bool drain, params string[] workers) =>
        _client.CallAsync("autoscaler.drain_workers", new JsonObject
        {
            ["workers"] = new JsonArray(workers.Select(w => (JsonNode?)w).ToArray()), ["drain"] = drain, ["reason"] = "idle for 600 s",
        });

    private async Task<string> EnqueueAsync(string name)
    {
        var id = (await _client.CallAsync("tasks.create", new JsonObject { ["name"] = name, ["type"] = "training" }))["id"]!.GetValue<string>();
        await _client.Tasks.EnqueueAsync(id, "q");
        return id;
    }

    private async Task<JsonObject> WorkerAsync(string id) =>
        (await _client.CallAsync("workers.get_all", []))["workers"]!.AsArray().OfType<JsonObject>().Single(w => w["id"]!.GetValue<string>() == id);

    [Fact]
    public async Task A_drained_worker_is_told_gets_no_task_and_serves_again_when_undrained()
    {
        await ReportAsync(_client, "as:r:l1:cpu:0");
        await ReportAsync(_client, "other:cpu:0");
        Assert.False((await ReportAsync(_client, "as:r:l1:cpu:0")).ContainsKey("draining"));

        var answer = await DrainAsync(true, "as:r:l1:cpu:0", "as:r:gone:cpu:0");
        Assert.Equal(1, answer["drained"]!.GetValue<int>());
        Assert.Equal(["as:r:gone:cpu:0"], answer["missing"]!.AsArray().Select(m => m!.GetValue<string>()));

        var report = await ReportAsync(_client, "as:r:l1:cpu:0");
        Assert.True(report["draining"]!.GetValue<bool>());
        Assert.Equal("idle for 600 s", report["drain_reason"]!.GetValue<string>());
        var listed = await WorkerAsync("as:r:l1:cpu:0");
        Assert.Equal("draining", listed["drain_state"]!.GetValue<string>());
        Assert.Equal("idle for 600 s", listed["drain_reason"]!.GetValue<string>());
        Assert.Null((await WorkerAsync("other:cpu:0"))["drain_state"]);

        var task = await EnqueueAsync("t1");
        var refused = await _client.CallAsync("queues.get_next_task", new JsonObject { ["queue"] = _queue, ["worker"] = "as:r:l1:cpu:0" });
        Assert.Null(refused["entry"]);
        Assert.True(refused["draining"]!.GetValue<bool>());
        Assert.Equal([task], (await _client.Queues.ListAsync()).Single(q => q.Name == "q").Entries);
        var taken = await _client.CallAsync("queues.get_next_task", new JsonObject { ["queue"] = _queue, ["worker"] = "other:cpu:0" });
        Assert.Equal(task, taken["entry"]!["task"]!.GetValue<string>());

        Assert.Equal(1, (await DrainAsync(false, "as:r:l1:cpu:0"))["undrained"]!.GetValue<int>());
        Assert.False((await ReportAsync(_client, "as:r:l1:cpu:0")).ContainsKey("draining"));
        Assert.Null((await WorkerAsync("as:r:l1:cpu:0"))["drain_state"]);
        var next = await EnqueueAsync("t2");
        var served = await _client.CallAsync("queues.get_next_task", new JsonObject { ["queue"] = _queue, ["worker"] = "as:r:l1:cpu:0" });
        Assert.Equal(next, served["entry"]!["task"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_drain_that_starts_during_a_long_poll_holds_when_a_task_arrives()
    {
        await ReportAsync(_client, "as:r:l2:cpu:0");
        var poll = _client.CallAsync("queues.get_next_task", new JsonObject { ["queue"] = _queue, ["worker"] = "as:r:l2:cpu:0", ["wait"] = 20 });
        await DrainAsync(true, "as:r:l2:cpu:0");
        var task = await EnqueueAsync("t1");
        var answer = await poll;
        Assert.Null(answer["entry"]);
        Assert.True(answer["draining"]!.GetValue<bool>());
        Assert.Equal([task], (await _client.Queues.ListAsync()).Single(q => q.Name == "q").Entries);
    }

    [Fact]
    public async Task An_enrolled_agent_that_names_no_worker_as_the_official_agent_does_gets_no_task_while_its_worker_drains()
    {
        var token = (await _client.CallAsync("autoscaler.create_enrollment", new JsonObject
        {
            ["scaler"] = "as", ["launch_id"] = "l3", ["worker_prefix"] = "as:r:l3", ["expires_in_sec"] = 600,
        }))["token"]!.GetValue<string>();
        var keys = await AgentEnrollment.ExchangeAsync(_server.Server.ApiUrl, token, "i-3", TimeSpan.FromSeconds(5), default);
        using var agent = new SlipwayClient(new ClientOptions { ApiServer = _server.Server.ApiUrl, AccessKey = keys.AccessKey, SecretKey = keys.SecretKey, MaxRetries = 0 });
        await ReportAsync(agent, "as:r:l3:cpu:0");
        var task = await EnqueueAsync("t1");
        await DrainAsync(true, "as:r:l3:cpu:0");
        Assert.Null((await agent.CallAsync("queues.get_next_task", new JsonObject { ["queue"] = _queue }))["entry"]);
        await DrainAsync(false, "as:r:l3:cpu:0");
        Assert.Equal(task, (await agent.CallAsync("queues.get_next_task", new JsonObject { ["queue"] = _queue }))["entry"]!["task"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"reason": "idle"}""")]
    [InlineData("""{"workers": ["w"]}""")]
    [InlineData("""{"workers": ["w"], "reason": ""}""")]
    [InlineData("""{"workers": ["w\u0001"], "reason": "idle"}""")]
    [InlineData("""{"workers": ["w"], "reason": "idle", "drain": "yes"}""")]
    public async Task Bad_drain_requests_are_a_400(string body)
    {
        var e = await Assert.ThrowsAsync<SlipwayException>(() => _client.CallAsync("autoscaler.drain_workers", JsonNode.Parse(body)!.AsObject()));
        Assert.Equal(400, e.ResultCode);
    }
}
