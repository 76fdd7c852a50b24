namespace Slipway.Agent;

/// <summary>How a task run ended: the status to set (null: leave the one somebody else set), a reason a person understands, and the console's last line.</summary>
internal readonly record struct TaskEnding(string? Status, string Reason, string ConsoleLine)
{
    public static TaskEnding Shutdown => new("stopped", "the agent was shut down", "Process aborted: the agent was shut down");

    /// <summary>The task goes back to its queue (status "queued"), its status message naming why.</summary>
    public static TaskEnding Requeue(string why) => new(Requeued, why, $"Process aborted and the task re-queued: {why}");

    public const string Requeued = "queued";

    public static TaskEnding FromExitCode(int exit) => exit == 0
        ? new("completed", "worker execution done", "Process completed successfully")
        : new("failed", ExitReason(exit), $"Process failed: {ExitReason(exit)}");

    internal static string ExitReason(int exit) => exit > 128 && exit < 160
        ? $"the task process was killed by signal {exit - 128} (exit code {exit})"
        : $"the task process exited with exit code {exit}";
}
