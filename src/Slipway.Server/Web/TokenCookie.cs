using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Slipway.Server.Auth;
using Slipway.Server.Core;

namespace Slipway.Server.Web;

/// <summary>
/// The web UI's session: the API's own token in the <c>clearml_token_basic</c> cookie (the name ClearML's web app uses,
/// which the API and the file server accept too, so downloads from the UI need nothing more). Tokens are signed with the
/// secret kept in the store, so every replica accepts every session. The token stays in the principal (on the server only),
/// so an open page re-checks it on every call and a revoked key or disabled user loses the page at once.
/// </summary>
public sealed class TokenCookie(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, Authenticator authenticator)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "slipway-token";
    public const string Name = Authenticator.CookieName;
    private const string TokenClaim = "slipway_token";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Cookies.TryGetValue(Name, out var token) || string.IsNullOrEmpty(token))
            return AuthenticateResult.NoResult();
        try
        {
            var identity = await authenticator.AuthenticateAsync(token, Context.RequestAborted);
            var principal = new ClaimsPrincipal(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, identity.User),
                new Claim(ClaimTypes.Name, identity.UserName),
                new Claim("company", identity.Company),
                new Claim(ClaimTypes.Role, identity.Role),
                new Claim(TokenClaim, token),
            ], SchemeName));
            return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
        }
        catch (ApiException e)
        {
            return AuthenticateResult.Fail(e.Message);
        }
    }

    /// <summary>The token the page was opened with.</summary>
    public static string TokenOf(ClaimsPrincipal user) => user.FindFirstValue(TokenClaim) ?? throw ApiException.NoCredentials();

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Redirect("/login?return=" + Uri.EscapeDataString(Request.Path + Request.QueryString));
        return Task.CompletedTask;
    }
}
