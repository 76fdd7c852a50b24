namespace Slipway.Wire;

/// <summary>Field names of a queue document beyond <see cref="DocumentFields"/>.</summary>
internal static class QueueFields
{
    public const string DisplayName = "display_name";

    /// <summary>Not stored: the queue's entries, added to each answer from the queue entry store.</summary>
    public const string Entries = "entries";

    /// <summary>The system tag of a tenant's default queue.</summary>
    public const string DefaultTag = "default";
}
