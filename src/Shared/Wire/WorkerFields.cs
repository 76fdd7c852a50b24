namespace Slipway.Wire;

/// <summary>Field names of a worker document beyond <see cref="DocumentFields"/>.</summary>
internal static class WorkerFields
{
    public const string Ip = "ip";
    public const string RegisterTime = "register_time";
    public const string LastActivityTime = "last_activity_time";
    public const string LastReportTime = "last_report_time";

    /// <summary>Seconds without a report after which the worker drops out.</summary>
    public const string Timeout = "timeout";

    /// <summary>The queues the worker listens to (ids).</summary>
    public const string Queues = "queues";

    /// <summary>The queue it last reported taking from; an explicit null when its report named none.</summary>
    public const string Queue = "queue";

    /// <summary>The task it runs, <c>{id}</c>; absent while idle.</summary>
    public const string Task = "task";
    public const string MachineStats = "machine_stats";

    /// <summary>The interruption notice (a spot reclaim) its agent reported, kept until it unregisters; when it came.</summary>
    public const string Interruption = "interruption";
    public const string InterruptionTime = "interruption_time";
}
