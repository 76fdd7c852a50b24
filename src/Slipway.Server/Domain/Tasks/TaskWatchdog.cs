using System.Data.Common;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Slipway.Server.Core;
using Slipway.Server.Storage;
using Slipway.Wire;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Domain.Tasks;

/// <summary>
/// No task stays "running" forever: a task in progress on a worker whose reports and whose own pings have
/// both stopped for longer than the watchdog timeout is marked failed with a reason that says so, or, when
/// it carries the system tag <c>requeue_on_worker_loss</c>, put back on its queue.
/// </summary>
public sealed partial class TaskWatchdog(IDocumentStore docs, IQueueEntryStore queueEntries, TaskUpdates updates, ServerOptions options, TimeProvider clock,
    ILogger<TaskWatchdog> logger)
{
    public const string RequeueTag = TaskFields.RequeueOnWorkerLossTag;

    /// <summary>Checks every running task once; returns the ids it failed or re-queued.</summary>
    public async Task<List<string>> RunOnceAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var handled = new List<string>();
        var running = await docs.FindAsync(Collection.Tasks, new DocQuery().Where(new FieldIn("status", [TaskStatuses.InProgress])), ct);
        foreach (var task in running)
        {
            var lifecycle = task.As<TaskDocument>();
            if (lifecycle.LastWorker is not { Length: > 0 } workerId)
                continue;
            var lastHeard = new[] { lifecycle.LastWorkerReport, lifecycle.LastUpdate }
                .OfType<string>().Select(t => DateTimeOffset.Parse(t, CultureInfo.InvariantCulture)).DefaultIfEmpty(DateTimeOffset.MinValue).Max();
            if (now - lastHeard <= options.WatchdogTimeout)
                continue;
            var worker = (await docs.GetAsync(Collection.Workers, Tenants.WorkerKey(Tenants.Of(lifecycle.Company), workerId), ct))?.As<WorkerDocument>();
            if (worker is not null && worker.Task?.Id == task.Id
                && now - DateTimeOffset.Parse(worker.LastActivityTime!, CultureInfo.InvariantCulture) <= options.WatchdogTimeout)
                continue;
            var requeue = lifecycle.SystemTags?.Contains(RequeueTag) == true
                          && Json.GetString(task.Body, TaskFields.Execution + "." + QueueFields.TaskQueue) is { Length: > 0 };
            var reason = $"worker {workerId} stopped reporting; last heard from at {lastHeard:u}";
            try
            {
                await updates.UpdateAsync(task.Id, body =>
                {
                    // Only a task still running is touched: it may have finished since it was read.
                    if (Json.GetString(body, TaskFields.Status) != TaskStatuses.InProgress)
                        throw new OperationCanceledException();
                    TaskDocuments.SetStatus(body, requeue ? TaskStatuses.Queued : TaskStatuses.Failed, reason,
                        requeue ? "re-queued by the watchdog" : "failed by the watchdog", updates.Now());
                }, ct);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                continue;
            }
            if (requeue)
            {
                await queueEntries.AddAsync(Json.GetString(task.Body, "execution.queue")!, task.Id, updates.Now(), ct);
                Log.Requeued(logger, task.Id, workerId, lastHeard);
            }
            else
                Log.Failed(logger, task.Id, workerId, lastHeard);
            handled.Add(task.Id);
        }
        return handled;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} failed by the watchdog: worker {Worker} stopped reporting (last heard from at {LastHeard:u})")]
        public static partial void Failed(ILogger logger, string taskId, string worker, DateTimeOffset lastHeard);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} re-queued by the watchdog: worker {Worker} stopped reporting (last heard from at {LastHeard:u})")]
        public static partial void Requeued(ILogger logger, string taskId, string worker, DateTimeOffset lastHeard);
    }
}

/// <summary>Runs the watchdog every minute (or every half timeout, when that is shorter).</summary>
public sealed partial class TaskWatchdogService(TaskWatchdog watchdog, ServerOptions options, ILogger<TaskWatchdogService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.WatchdogTimeout <= TimeSpan.Zero)
            return;
        var period = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, Math.Max(TimeSpan.FromSeconds(1).Ticks, options.WatchdogTimeout.Ticks / 2)));
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await watchdog.RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is ApiException or InvalidQueryException or FormatException or DbException)
            {
                // A pass that could not finish is run again at the next tick.
                Log.PassFailed(logger, e.Message);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "A watchdog pass did not finish (the next one tries again): {Reason}")]
        public static partial void PassFailed(ILogger logger, string reason);
    }
}
