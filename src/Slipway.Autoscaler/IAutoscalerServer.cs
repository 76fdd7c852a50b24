namespace Slipway.Autoscaler;

/// <summary>The server as the autoscaler sees it: queues and workers to read, its state and log to keep, tasks to release.</summary>
public interface IAutoscalerServer
{
    Task<IReadOnlyCollection<string>> QueueNamesAsync(CancellationToken ct);

    /// <summary>The tasks waiting in each named queue, first to run first, and every registered worker.</summary>
    Task<(IReadOnlyDictionary<string, IReadOnlyList<string>> Queued, IReadOnlyList<WorkerView> Workers)> ReadAsync(IReadOnlyCollection<string> queues, CancellationToken ct);

    Task<AutoscalerState?> LoadStateAsync(string scaler, CancellationToken ct);

    Task SaveStateAsync(string scaler, AutoscalerState state, CancellationToken ct);

    Task AppendLogAsync(string scaler, IReadOnlyList<Decision> decisions, CancellationToken ct);

    /// <summary>Re-queues or fails a task still running on the worker; false when it had moved on.</summary>
    Task<bool> ReleaseTaskAsync(string task, string worker, bool requeue, string reason, CancellationToken ct);

    Task HoldTaskAsync(string task, string message, CancellationToken ct);

    /// <summary>Marks workers draining (the server hands them no task and tells their agents) or, with <paramref name="drain"/> false, takes the mark off.</summary>
    Task DrainWorkersAsync(IReadOnlyList<string> workers, bool drain, string reason, CancellationToken ct);

    Task UnregisterWorkersAsync(IReadOnlyList<string> workers, CancellationToken ct);

    /// <summary>The launches ended: their enrollment tokens stop working and the key pairs their instances enrolled for are revoked.</summary>
    Task RevokeLaunchesAsync(string scaler, IReadOnlyList<string> launchIds, CancellationToken ct);
}
