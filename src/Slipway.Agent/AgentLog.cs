using Microsoft.Extensions.Logging;

namespace Slipway.Agent;

/// <summary>The agent's log messages (source-generated).</summary>
internal static partial class AgentLog
{
    [LoggerMessage(1, LogLevel.Information, "Worker {Worker} serves {Queues}")]
    public static partial void Serving(ILogger logger, string worker, string queues);

    [LoggerMessage(2, LogLevel.Information, "Task {Task} from queue {Queue} started on {Worker} ({Kind})")]
    public static partial void TaskStarted(ILogger logger, string task, string queue, string worker, string kind);

    [LoggerMessage(3, LogLevel.Information, "Task {Task} ended: {Status} ({Reason})")]
    public static partial void TaskEnded(ILogger logger, string task, string status, string reason);

    [LoggerMessage(4, LogLevel.Warning, "The server cannot be reached ({What}): {Error}; retrying")]
    public static partial void ServerUnreachable(ILogger logger, string what, string error);

    [LoggerMessage(5, LogLevel.Information, "The server answers again ({What})")]
    public static partial void ServerBack(ILogger logger, string what);

    [LoggerMessage(6, LogLevel.Warning, "Task {Task} could not be started: {Error}")]
    public static partial void TaskNotStarted(ILogger logger, string task, string error);

    [LoggerMessage(7, LogLevel.Warning, "Task {Task}: {Error}")]
    public static partial void TaskProblem(ILogger logger, string task, string error);

    [LoggerMessage(8, LogLevel.Warning, "Worker {Worker}: {Error}")]
    public static partial void WorkerProblem(ILogger logger, string worker, string error);

    [LoggerMessage(9, LogLevel.Information, "Task {Task} aborted: {Reason}")]
    public static partial void TaskAborted(ILogger logger, string task, string reason);

    [LoggerMessage(10, LogLevel.Warning, "Shutting down: {Reason}")]
    public static partial void ShuttingDown(ILogger logger, string reason);

    [LoggerMessage(11, LogLevel.Information, "Worker {Worker} is draining ({Reason}): it takes no new task")]
    public static partial void Draining(ILogger logger, string worker, string reason);

    [LoggerMessage(12, LogLevel.Warning, "Interrupted: {Notice}; taking no more work, re-queueing running tasks")]
    public static partial void Interrupted(ILogger logger, string notice);

    [LoggerMessage(13, LogLevel.Warning, "The spot notice cannot be read from {Imds}: {Error}; still trying")]
    public static partial void ImdsUnreadable(ILogger logger, string imds, string error);
}
