using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Slipway.Agent;

/// <summary>
/// The agent's spans and instruments, named "Slipway.Agent": one span per task run (its API calls are
/// "Slipway.Client" spans beneath it), and how many tasks ran, how they ended and how long they took.
/// </summary>
internal static class AgentTelemetry
{
    public const string Name = "Slipway.Agent";

    public static readonly ActivitySource Source = new(Name, typeof(AgentTelemetry).Assembly.GetName().Version?.ToString());

    private static readonly Meter Meter = new(Name, typeof(AgentTelemetry).Assembly.GetName().Version?.ToString());

    public static readonly Counter<long> TasksEnded = Meter.CreateCounter<long>(
        "slipway.agent.tasks", description: "tasks this agent took, by how they ended (completed, failed, stopped, not_started, ...)");

    public static readonly Histogram<double> TaskDuration = Meter.CreateHistogram<double>(
        "slipway.agent.task.duration", unit: "s", description: "from taking a task to setting its final status, by how it ended");

    public static readonly UpDownCounter<long> BusySlots = Meter.CreateUpDownCounter<long>(
        "slipway.agent.slots.busy", description: "slots running a task now");

    public static void Ended(Activity? activity, long startedAt, string outcome)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        TasksEnded.Add(1, tag);
        TaskDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, tag);
        if (activity is null)
            return;
        activity.SetTag("slipway.task.outcome", outcome);
        if (outcome is not "completed")
            activity.SetStatus(ActivityStatusCode.Error, outcome);
    }
}
