using System.Text.Json;
using System.Text.Json.Serialization;

namespace Slipway.Autoscaler;

/// <summary>
/// What the autoscaler must remember across its own restarts: instance records, offerings backed off, re-queue counts,
/// spend. It is stored on the server as one document and written before every launch, so that nothing launched is unexplained.
/// </summary>
public sealed class AutoscalerState
{
    /// <summary>How the state is written on the server: snake_case names and statuses as words, for the UI and <c>status --json</c>.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public List<InstanceRecord> Instances { get; set; } = [];

    /// <summary>Offering key → until when it is skipped.</summary>
    public Dictionary<string, DateTimeOffset> Backoffs { get; set; } = [];

    /// <summary>Task id → how many times a lost instance's task was put back on its queue.</summary>
    public Dictionary<string, int> Requeues { get; set; } = [];

    /// <summary>Task id → the status message last set because the task was held back (not repeated every pass).</summary>
    public Dictionary<string, string> Held { get; set; } = [];

    /// <summary>The month (yyyy-MM, UTC) <see cref="SpentUsd"/> adds up.</summary>
    public string Month { get; set; } = "";

    /// <summary>Spend of instances ended this month; live ones are added as they run.</summary>
    public decimal SpentUsd { get; set; }

    public long Sequence { get; set; }

    /// <summary>Each resource's limits and the instance count the policy wants now, written at every pass (for the page and /metrics).</summary>
    public Dictionary<string, ResourceStatus> Resources { get; set; } = [];

    /// <summary>Resource → launches the provider refused, since the state was first written (a counter for /metrics).</summary>
    public Dictionary<string, long> LaunchFailures { get; set; } = [];

    /// <summary>Resource → instances lost (ended outside, reclaimed, agent gone).</summary>
    public Dictionary<string, long> Interruptions { get; set; } = [];

    /// <summary>Queue depth and capacity, one sample per <see cref="HistoryInterval"/>, the latest <see cref="HistoryLength"/> kept.</summary>
    public List<CapacitySample> History { get; set; } = [];

    public static readonly TimeSpan HistoryInterval = TimeSpan.FromMinutes(1);

    public const int HistoryLength = 360;

    public IEnumerable<InstanceRecord> Live => Instances.Where(i => i.IsLive);
}

public enum InstanceStatus
{
    /// <summary>Recorded, the provider not yet asked (or not yet answered).</summary>
    Requested,
    /// <summary>The provider has it; its agent has not registered yet.</summary>
    Booting,
    Ready,
    /// <summary>
    /// Its workers are marked draining on the server (handed no task); counted as no capacity; terminated at the recheck once
    /// the server shows the mark, unless a worker took a task first, and at the drain timeout anyway.
    /// </summary>
    Draining,
    Terminated,
    Lost,
    /// <summary>Its agent reported the provider's interruption notice (a spot reclaim): terminated, its offering backed off.</summary>
    Interrupted,
    LaunchFailed,
}

public sealed class InstanceRecord
{
    public string LaunchId { get; set; } = "";

    public string? InstanceId { get; set; }

    public string Resource { get; set; } = "";

    public string MachineType { get; set; } = "";

    public string? Zone { get; set; }

    public string Market { get; set; } = "";

    public decimal PriceUsdPerHour { get; set; }

    public int Slots { get; set; } = 1;

    public InstanceStatus Status { get; set; }

    public DateTimeOffset LaunchedAt { get; set; }

    public DateTimeOffset? ReadyAt { get; set; }

    public DateTimeOffset? LastBusyAt { get; set; }

    public DateTimeOffset? LastWorkerSeenAt { get; set; }

    public DateTimeOffset? DrainStartedAt { get; set; }

    /// <summary>When the drain was last sent to the server (it is sent again at a recheck that finds it unconfirmed).</summary>
    public DateTimeOffset? DrainSentAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public string? EndReason { get; set; }

    /// <summary>Whether the provider has listed it at least once (an instance not yet listed is not lost).</summary>
    public bool Seen { get; set; }

    /// <summary>Worker id → the task it ran at the last pass, so that a lost instance's tasks are known after its workers vanish.</summary>
    public Dictionary<string, string> RunningTasks { get; set; } = [];

    public List<string> Workers { get; set; } = [];

    /// <summary>Its running tasks tagged do_not_disrupt at the last pass that saw them (they hold off giving it up as lost).</summary>
    public List<string> ProtectedTasks { get; set; } = [];

    /// <summary>Whether the hold of a due termination for a do_not_disrupt task has been logged (once per hold).</summary>
    public bool DisruptionHeld { get; set; }

    /// <summary>Why the provider still has it pending (a pod unschedulable, an image pull failing), as it last said; null when nothing holds it up.</summary>
    public string? ProviderDetail { get; set; }

    /// <summary>Since when a booting one-task instance has had no waiting task to serve.</summary>
    public DateTimeOffset? SurplusSince { get; set; }

    public bool IsLive => Status is InstanceStatus.Requested or InstanceStatus.Booting or InstanceStatus.Ready or InstanceStatus.Draining;

    public bool IsBooting => Status is InstanceStatus.Requested or InstanceStatus.Booting;

    public Offering Offering => new(MachineType, Zone, Market);

    /// <summary>Dollars spent so far (instance-seconds × price).</summary>
    public decimal SpentUsd(DateTimeOffset now) =>
        PriceUsdPerHour * (decimal)Math.Max(0, ((EndedAt ?? now) - LaunchedAt).TotalHours);
}

/// <summary>A resource as the status page shows it: its configured limits and the policy's wish.</summary>
public sealed class ResourceStatus
{
    public string Provider { get; set; } = "";

    public string MachineType { get; set; } = "";

    public int Slots { get; set; }

    public int MinInstances { get; set; }

    public int MaxInstances { get; set; }

    /// <summary>Live instances the policy keeps (booting, ready, not draining) after this pass's launches.</summary>
    public int Desired { get; set; }
}

/// <summary>One point of the queue-depth-versus-capacity chart.</summary>
public sealed class CapacitySample
{
    public DateTimeOffset At { get; set; }

    /// <summary>Queue → tasks waiting in it.</summary>
    public Dictionary<string, int> Queued { get; set; } = [];

    /// <summary>Slots of registered instances (idle or busy).</summary>
    public int ReadySlots { get; set; }

    public int BusySlots { get; set; }

    public int BootingSlots { get; set; }
}
