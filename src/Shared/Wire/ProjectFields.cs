namespace Slipway.Wire;

/// <summary>Field names of a project document beyond <see cref="DocumentFields"/>.</summary>
internal static class ProjectFields
{
    /// <summary>The last segment of the project's '/'-separated name.</summary>
    public const string Basename = "basename";
    public const string Description = "description";

    /// <summary>The parent project's id; a root project keeps an explicit null.</summary>
    public const string Parent = "parent";
    public const string DefaultOutputDestination = "default_output_destination";

    /// <summary>Grants by user id (or "*"): read, write or owner.</summary>
    public const string Permissions = "permissions";

    /// <summary>The system tag of a project lists leave out unless asked (dataset folders).</summary>
    public const string HiddenTag = "hidden";
}
