namespace Slipway.Wire;

/// <summary>Field names of a user document beyond <see cref="DocumentFields"/>.</summary>
internal static class UserFields
{
    /// <summary>admin, member, viewer, agent or customer (older documents may lack it: a member).</summary>
    public const string Role = "role";

    /// <summary>A disabled user cannot sign in and its tokens stop working.</summary>
    public const string Disabled = "disabled";
}
