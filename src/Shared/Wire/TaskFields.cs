namespace Slipway.Wire;

/// <summary>Field names of a task document beyond <see cref="DocumentFields"/>.</summary>
internal static class TaskFields
{
    public const string Type = "type";

    /// <summary>One of <see cref="TaskStatusNames"/>.</summary>
    public const string Status = "status";
    public const string StatusReason = "status_reason";

    /// <summary>Free text; an in-progress task whose message says "stopping" is being aborted.</summary>
    public const string StatusMessage = "status_message";
    public const string StatusChanged = "status_changed";
    public const string LastChange = "last_change";
    public const string Started = "started";
    public const string Completed = "completed";
    public const string Published = "published";
    public const string LastIteration = "last_iteration";
    public const string LastMetrics = "last_metrics";

    /// <summary>The worker that last reported running the task, and when (the watchdog reads both).</summary>
    public const string LastWorker = "last_worker";
    public const string LastWorkerReport = "last_worker_report";

    /// <summary>The status a queued task had before it was enqueued (internal: what a dequeue returns it to).</summary>
    public const string EnqueueStatus = "enqueue_status";
    public const string Execution = "execution";
    public const string Script = "script";
    public const string Models = "models";
    public const string Runtime = "runtime";

    /// <summary>The system tag of a task the watchdog re-queues instead of failing when its worker is lost.</summary>
    public const string RequeueOnWorkerLossTag = "requeue_on_worker_loss";
}
