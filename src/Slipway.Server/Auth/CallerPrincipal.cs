using System.Security.Claims;
using Slipway.Server.Core;

namespace Slipway.Server.Auth;

/// <summary>How a request proved who it is: each consumer has its own rule about which of these it accepts.</summary>
public enum CredentialSource
{
    /// <summary>An <c>Authorization: Bearer</c> header, which a browser never sends on its own.</summary>
    Bearer,

    /// <summary>The web UI's session cookie, which a browser attaches to any request to the site.</summary>
    Cookie,
}

/// <summary>
/// The signed-in caller as <see cref="TokenAuthentication"/> found them: the <see cref="Core.Identity"/> the token stands for now,
/// how it arrived, and the token itself (kept on the server only, so an open page can check it again on every call).
/// The claims are for the framework's authorization and Blazor's authentication state.
/// </summary>
public sealed class CallerPrincipal : ClaimsPrincipal
{
    public CallerPrincipal(Identity caller, CredentialSource source, string token)
        : base(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, caller.User),
            new Claim(ClaimTypes.Name, caller.UserName),
            new Claim("company", caller.Company),
            new Claim(ClaimTypes.Role, caller.Role),
        ], TokenAuthentication.SchemeName))
    {
        Caller = caller;
        Source = source;
        Token = token;
    }

    public Identity Caller { get; }
    public CredentialSource Source { get; }
    public string Token { get; }
}
