namespace Slipway.Wire;

/// <summary>A task's status values as the API spells them.</summary>
internal static class TaskStatusNames
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
}
