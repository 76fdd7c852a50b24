namespace Slipway.Server.Core;

/// <summary>Who is calling: the user a verified token names, with the role and tenant (company) their user record has now.</summary>
public sealed record Identity(string User, string UserName, string Company, string Role)
{
    /// <summary>The key pair the caller signed in with (null for the server's own system identity).</summary>
    public string? AccessKey { get; init; }

    /// <summary>The security epoch the identity was checked at: what was computed from permissions at this epoch still holds.</summary>
    public long Epoch { get; init; }

    public bool IsAdmin => Role is Roles.Admin or Roles.System;
}
