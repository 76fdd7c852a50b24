namespace Slipway.Autoscaler;

/// <summary>What a pass decided to do. Every decision goes to the append-only log with its reason code.</summary>
public enum DecisionAction
{
    Launch,
    LaunchFailed,
    Ready,
    Drain,
    Undrain,
    Terminate,
    Lost,
    Adopt,
    RequeueTask,
    FailTask,
    Hold,
    /// <summary>A scale-down held back (a do_not_disrupt task): logged once, nothing to carry out.</summary>
    Keep,
}

/// <summary>Why: the reason codes of the decision log.</summary>
public static class Reasons
{
    public const string Demand = "demand";
    public const string MinInstances = "min_instances";
    public const string Registered = "registered";
    public const string Idle = "idle";
    public const string TookTask = "took_task";
    public const string SpinUpTimeout = "spin_up_timeout";
    public const string SpotFallback = "spot_fallback";
    public const string CapacityError = "capacity_error";
    public const string ProviderError = "provider_error";
    public const string Orphan = "orphan";
    public const string Adopted = "adopted";
    public const string InstanceGone = "instance_gone";
    public const string WorkerLost = "worker_lost";
    public const string BudgetHourly = "budget_hourly";
    public const string BudgetMonthly = "budget_monthly";
    public const string MaxInstances = "max_instances";
    public const string OfferingsBackedOff = "offerings_backed_off";
    /// <summary>A pod's task ended (completed, failed or aborted): the one-task pod is deleted.</summary>
    public const string TaskEnded = "task_ended";
    /// <summary>A one-task pod not yet started is no longer needed (its task was aborted or taken elsewhere).</summary>
    public const string DemandGone = "demand_gone";
    /// <summary>A launched instance waits on the provider (a pod unschedulable, an image that cannot be pulled).</summary>
    public const string InstancePending = "instance_pending";
    public const string MaxPods = "max_pods";
    /// <summary>A draining instance's agent stopped by itself once idle, as it was told to.</summary>
    public const string Drained = "drained";
    /// <summary>A draining instance was terminated anyway: drain_timeout_seconds passed.</summary>
    public const string DrainTimeout = "drain_timeout";
    /// <summary>The server did not show every worker of a draining instance as draining at the recheck: the drain is sent again.</summary>
    public const string DrainUnconfirmed = "drain_unconfirmed";
    /// <summary>A worker carried a drain mark its instance's record does not explain: it is taken off.</summary>
    public const string StaleDrain = "stale_drain";
    /// <summary>The instance's agent reported a spot interruption notice.</summary>
    public const string SpotInterruption = "spot_interruption";
    /// <summary>A termination the autoscaler would make is held: the instance runs a task tagged do_not_disrupt.</summary>
    public const string DoNotDisrupt = "do_not_disrupt";
}

/// <summary>One decision; <see cref="Tasks"/> are the tasks it concerns (re-queued, failed or held).</summary>
public sealed record Decision(
    DecisionAction Action, string Reason, string Resource, string? LaunchId = null, string? InstanceId = null, string? Detail = null)
{
    public IReadOnlyList<string> Tasks { get; init; } = [];

    public IReadOnlyList<string> Workers { get; init; } = [];

    public override string ToString() =>
        $"{Action.ToString().ToLowerInvariant()} {Resource}{(LaunchId is null ? "" : " " + LaunchId)}{(InstanceId is null ? "" : " (" + InstanceId + ")")}: {Reason}{(Detail is null ? "" : " — " + Detail)}";
}

/// <summary>The outcome of one pass: decisions in the order they are carried out.</summary>
public sealed record Plan(IReadOnlyList<Decision> Decisions)
{
    public IEnumerable<Decision> Launches => Decisions.Where(d => d.Action == DecisionAction.Launch);
}
