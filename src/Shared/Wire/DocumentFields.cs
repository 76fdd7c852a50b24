namespace Slipway.Wire;

/// <summary>Field names most stored entities share, as the API spells them (the server stores them, the client reads them).</summary>
internal static class DocumentFields
{
    public const string Id = "id";
    public const string Name = "name";
    public const string User = "user";
    public const string Company = "company";
    public const string Created = "created";
    public const string LastUpdate = "last_update";
    public const string Tags = "tags";
    public const string SystemTags = "system_tags";
    public const string Metadata = "metadata";
    public const string Project = "project";
    public const string Comment = "comment";

    /// <summary>The system tag that hides an entity from default lists.</summary>
    public const string ArchivedTag = "archived";
}
