using System.Diagnostics;
using Slipway.TestSupport.Agents;

namespace Slipway.Agent.Tests;

/// <summary>A task run is one span, with the API calls the agent made for it as its children.</summary>
public sealed class AgentTelemetryTests
{
    [Fact]
    public async Task A_task_run_is_a_span_with_its_outcome_and_its_api_calls_beneath_it()
    {
        using var spans = new SpanRecorder(["Slipway.Agent", "Slipway.Client"]);
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        await using var agent = new RunningAgent(server, RunningAgent.DefaultOptions("q"));
        var ok = await TestTasks.CreateAsync(client, "fine", TestTasks.Shell("echo fine\n"), "q");
        await TestTasks.WaitFinishedAsync(client, ok);
        var bad = await TestTasks.CreateAsync(client, "fails", TestTasks.Shell("exit 4\n"), "q");
        await TestTasks.WaitFinishedAsync(client, bad);

        // The span ends a moment after the final status is set (the worker reports itself idle first).
        var run = await SpanAsync(spans, ok);
        Assert.Equal("completed", run.GetTagItem("slipway.task.outcome"));
        Assert.Equal(agent.Agent.WorkerIds[0], run.GetTagItem("slipway.worker"));
        Assert.NotEqual(ActivityStatusCode.Error, run.Status);
        var calls = spans.Spans.Where(s => s.Source.Name == "Slipway.Client" && s.ParentSpanId == run.SpanId).Select(s => s.OperationName).ToList();
        Assert.Contains("tasks.started", calls);
        Assert.Contains("tasks.completed", calls);

        var failed = await SpanAsync(spans, bad);
        Assert.Equal("failed", failed.GetTagItem("slipway.task.outcome"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
    }

    private static Task<Activity> SpanAsync(SpanRecorder spans, string taskId) =>
        spans.WaitForAsync(s => s.OperationName == "task.run" && (string?)s.GetTagItem("slipway.task.id") == taskId);
}
