using Slipway.Wire;

namespace Slipway.Server.Domain.Tasks;

/// <summary>The task status state machine of the reference server, enforced unless a call says force.</summary>
public static class TaskStatuses
{
    public const string Created = TaskStatusNames.Created;
    public const string Queued = TaskStatusNames.Queued;
    public const string InProgress = TaskStatusNames.InProgress;
    public const string Stopped = TaskStatusNames.Stopped;
    public const string Published = TaskStatusNames.Published;
    public const string Publishing = TaskStatusNames.Publishing;
    public const string Closed = TaskStatusNames.Closed;
    public const string Failed = TaskStatusNames.Failed;
    public const string Completed = TaskStatusNames.Completed;
    public const string Unknown = TaskStatusNames.Unknown;

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
