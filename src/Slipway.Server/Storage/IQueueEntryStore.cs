namespace Slipway.Server.Storage;

public sealed record QueueEntry(string Task, string Added);

/// <summary>The ordered entries of the queues. <see cref="PopAsync"/> hands each entry to exactly one caller.</summary>
public interface IQueueEntryStore
{
    Task AddAsync(string queue, string task, string added, CancellationToken ct = default);

    /// <summary>Atomically removes and returns the head of the queue, or null when it is empty.</summary>
    Task<QueueEntry?> PopAsync(string queue, CancellationToken ct = default);

    Task<bool> RemoveAsync(string queue, string task, CancellationToken ct = default);

    /// <summary>Removes the task from every queue; returns the queues it was in.</summary>
    Task<List<string>> RemoveEverywhereAsync(string task, CancellationToken ct = default);

    Task<List<QueueEntry>> ListAsync(string queue, CancellationToken ct = default);

    Task<Dictionary<string, List<QueueEntry>>> ListManyAsync(IReadOnlyCollection<string> queues, CancellationToken ct = default);

    Task<long> CountAsync(string queue, CancellationToken ct = default);

    /// <summary>Rewrites the queue in the given task order (moves are rare; the queue is short).</summary>
    Task ReorderAsync(string queue, IReadOnlyList<QueueEntry> entries, CancellationToken ct = default);

    Task DeleteQueueAsync(string queue, CancellationToken ct = default);

    /// <summary>Waits until an entry may have been added to the queue, or the timeout passes (false).</summary>
    Task<bool> WaitForEntryAsync(string queue, TimeSpan timeout, CancellationToken ct = default);
}
