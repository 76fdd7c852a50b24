using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Tasks;

/// <summary>
/// What the autoscaler does to the tasks of an instance it saw die, at once rather than after the watchdog's 10 minutes:
/// the same change the watchdog makes (re-queued or failed with a reason), and a status message on a task held back.
/// </summary>
public sealed class LostTasks(TaskUpdates updates, IQueueEntryStore queueEntries)
{
    /// <summary>
    /// Re-queues or fails a task still running on <paramref name="worker"/>; returns its new status, or null when it had moved on
    /// (finished, or taken by another worker), which is left alone.
    /// </summary>
    public async Task<string?> ReleaseAsync(string company, string taskId, string worker, bool requeue, string reason, CancellationToken ct)
    {
        string? queue = null;
        try
        {
            await updates.UpdateAsync(taskId, body =>
            {
                if (Tenants.Of(body) != company || Json.GetString(body, "status") != TaskStatuses.InProgress || Json.GetString(body, "last_worker") != worker)
                    throw new OperationCanceledException();
                queue = requeue ? Json.GetString(body, "execution.queue") : null;
                var back = queue is { Length: > 0 };
                TaskDocuments.SetStatus(body, back ? TaskStatuses.Queued : TaskStatuses.Failed, reason,
                    back ? "re-queued by the autoscaler" : "failed by the autoscaler", updates.Now());
            }, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
        if (queue is not { Length: > 0 })
            return TaskStatuses.Failed;
        await queueEntries.AddAsync(queue, taskId, updates.Now(), ct);
        return TaskStatuses.Queued;
    }

    /// <summary>Sets the status message of a task still queued (why it is waiting); false when it is not queued any more.</summary>
    public async Task<bool> HoldAsync(string company, string taskId, string message, CancellationToken ct)
    {
        try
        {
            await updates.UpdateAsync(taskId, body =>
            {
                if (Tenants.Of(body) != company || Json.GetString(body, "status") != TaskStatuses.Queued)
                    throw new OperationCanceledException();
                body["status_message"] = message;
            }, ct);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
