namespace Slipway.Server.Domain.Tasks;

/// <summary>The task status state machine of the reference server, enforced unless a call says force.</summary>
public static class TaskStatuses
{
    public const string Created = "created";
    public const string Queued = "queued";
    public const string InProgress = "in_progress";
    public const string Stopped = "stopped";
    public const string Published = "published";
    public const string Publishing = "publishing";
    public const string Closed = "closed";
    public const string Failed = "failed";
    public const string Completed = "completed";
    public const string Unknown = "unknown";

    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        Created, Queued, InProgress, Stopped, Published, Publishing, Closed, Failed, Completed, Unknown,
    };

    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        [Created] = [Queued, InProgress],
        [Queued] = [Created, InProgress, Stopped],
        [InProgress] = [Stopped, Failed, Created, Completed],
        [Stopped] = [Closed, Created, Failed, Queued, InProgress, Published, Publishing, Completed],
        [Closed] = [Created, Failed, Published, Publishing, Stopped],
        [Failed] = [Created, Stopped, Published, Queued],
        [Completed] = [Published, InProgress, Created],
        [Publishing] = [Published],
        [Published] = [],
    };

    public static bool CanChange(string from, string to) =>
        from == to || (Allowed.TryGetValue(from, out var targets) && targets.Contains(to));
}
