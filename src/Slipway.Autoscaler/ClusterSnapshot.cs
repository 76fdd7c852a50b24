namespace Slipway.Autoscaler;

/// <summary>The two truths read at the start of a pass: the server's queues and workers, and the provider's tagged instances.</summary>
public sealed record ClusterSnapshot(
    IReadOnlyDictionary<string, IReadOnlyList<string>> QueuedTasks,
    IReadOnlyList<WorkerView> Workers,
    IReadOnlyList<ProviderInstance> Instances)
{
    /// <summary>
    /// When the provider listing was asked for (null: this pass). An instance of a record that ended after that is listed as it
    /// was before the end, so it is no orphan.
    /// </summary>
    public DateTimeOffset? ListedAt { get; init; }
}

/// <summary>
/// A worker as the server lists it; <see cref="Task"/> is the task it runs now, if any; <see cref="Draining"/>, whether the server
/// has it marked draining (it is handed no task); <see cref="Interruption"/>, the interruption notice its agent reported (a spot
/// reclaim), if any; <see cref="DoNotDisrupt"/>, whether its task carries the <see cref="DoNotDisruptTag"/> tag.
/// </summary>
public sealed record WorkerView(string Id, string? Task, bool Draining = false, string? Interruption = null, bool DoNotDisrupt = false)
{
    /// <summary>A task tagged so (tag or system tag) keeps the instance it runs on from being scaled down by the autoscaler's choice.</summary>
    public const string DoNotDisruptTag = "do_not_disrupt";
}
