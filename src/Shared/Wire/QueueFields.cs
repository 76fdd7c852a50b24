namespace Slipway.Wire;

/// <summary>Field names of a queue document beyond <see cref="DocumentFields"/>.</summary>
internal static class QueueFields
{
    public const string DisplayName = "display_name";

    /// <summary>Not stored: the queue's entries, added to each answer from the queue entry store.</summary>
    public const string Entries = "entries";

    /// <summary>Where a task's <c>execution</c> names the queue it was enqueued in.</summary>
    public const string TaskQueue = "queue";

    /// <summary>The system tag of a tenant's default queue.</summary>
    public const string DefaultTag = "default";
}
