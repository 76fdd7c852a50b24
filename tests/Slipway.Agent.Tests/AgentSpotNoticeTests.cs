using System.Text.Json.Nodes;
using Slipway.Agent.Tests.Infrastructure;
using Slipway.TestSupport.Agents;

namespace Slipway.Agent.Tests;

/// <summary>
/// --watch-spot-notice against an IMDSv2 stand-in on loopback: on the notice the agent re-queues its running task at once,
/// saying why, takes no more work, and its worker reports the interruption for the autoscaler.
/// </summary>
public sealed class AgentSpotNoticeTests
{
    [Fact]
    public async Task A_spot_notice_requeues_the_running_task_at_once_stops_taking_work_and_is_reported()
    {
        await using var imds = new ImdsStandIn();
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var options = RunningAgent.DefaultOptions("q");
        options.WatchSpotNotice = true;
        options.Imds = imds.Address;
        options.SpotNoticeInterval = TimeSpan.FromMilliseconds(200);
        options.KillGracePeriod = TimeSpan.FromSeconds(1);
        await using var agent = new RunningAgent(server, options);
        var task = await TestTasks.CreateAsync(client, "long", TestTasks.Shell("sleep 120\n"), "q");
        await TestTasks.WaitUntilAsync(client, task, t => t.Status == "in_progress");
        // The agent reads with a session token (IMDSv2), and there is no notice yet.
        await TestTasks.WaitForAsync(() => Task.FromResult(imds.NoticeReads), n => n >= 2);
        Assert.Equal(0, imds.RefusedReads);
        Assert.Equal("in_progress", (await client.Tasks.GetAsync(task)).Status);

        imds.Notice = """{"action": "terminate", "time": "2026-12-04T22:10:00Z"}""";
        // Well inside the task's 120 s: ended and back in its queue, the message naming the interruption.
        var requeued = await TestTasks.WaitUntilAsync(client, task, t => t.Status == "queued", TimeSpan.FromSeconds(30));
        Assert.Equal("re-queued: spot interruption notice: EC2 will terminate this instance at 2026-12-04T22:10:00Z", requeued.StatusMessage);
        Assert.Equal([task], (await client.Queues.ListAsync()).Single(q => q.Name == "q").Entries);

        // Its worker stays registered, showing the notice, and takes nothing more.
        var worker = await TestTasks.WaitForAsync(async () => ((await client.CallAsync("workers.get_all", []))["workers"] as JsonArray ?? [])
            .OfType<JsonObject>().FirstOrDefault(w => w["id"]!.GetValue<string>() == agent.Agent.WorkerIds[0]), w => w?["interruption"] is not null);
        Assert.StartsWith("spot interruption notice: EC2 will terminate", worker!["interruption"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(worker["task"]);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal("queued", (await client.Tasks.GetAsync(task)).Status);
    }

    [Theory]
    [InlineData("""{"action": "stop", "time": "2026-12-04T22:10:00Z"}""", "spot interruption notice: EC2 will stop this instance at 2026-12-04T22:10:00Z")]
    [InlineData("""{"action": "hibernate"}""", "spot interruption notice: EC2 will hibernate this instance")]
    [InlineData("not json", "spot interruption notice: not json")]
    public void The_notice_is_described_for_people(string body, string expected) =>
        Assert.Equal(expected, SpotNotice.Describe(body));
}
