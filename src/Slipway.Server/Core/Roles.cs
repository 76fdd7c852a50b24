namespace Slipway.Server.Core;

/// <summary>
/// The roles a user has in their tenant. An admin manages users, keys and everything else; a member tracks, trains and
/// runs work; a viewer only reads; a customer only runs published templates and reads its own results.
/// </summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Member = "member";
    public const string Viewer = "viewer";
    public const string Customer = "customer";
    /// <summary>
    /// An agent an autoscaler enrolled (one user per launch, deleted when the instance ends): it runs and reports on whatever
    /// task its queues hand it, in any project of its tenant, and manages nothing. Never assignable through the API.
    /// </summary>
    public const string Agent = "agent";
    /// <summary>The server's own background work (watchdog, first start); never a user's role.</summary>
    public const string System = "system";

    public static readonly IReadOnlyList<string> Assignable = [Admin, Member, Viewer, Customer];

    /// <summary>The role a stored user has: "user" is what earlier versions called a member.</summary>
    public static string Normalize(string? stored) => stored switch
    {
        null or "" or "user" => Member,
        _ => stored,
    };

    /// <summary>A role given through the API: one of <see cref="Assignable"/>, or "user" for a member.</summary>
    public static string? Parse(string? given) => given == "user" ? Member : Assignable.Contains(given) ? given : null;
}
