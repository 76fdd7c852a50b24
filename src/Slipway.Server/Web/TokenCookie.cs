using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Slipway.Server.Api;
using Slipway.Server.Auth;

namespace Slipway.Server.Web;

/// <summary>
/// The web UI's session: the API's own token in the <c>clearml_token_basic</c> cookie (the name ClearML's web app uses,
/// which the API and the file server accept too, so downloads from the UI need nothing more). Tokens are signed with the
/// secret kept in the store, so every replica accepts every session.
/// </summary>
public sealed class TokenCookie(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, TokenService tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "slipway-token";
    public const string Name = "clearml_token_basic";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Cookies.TryGetValue(Name, out var token) || string.IsNullOrEmpty(token))
            return Task.FromResult(AuthenticateResult.NoResult());
        try
        {
            var identity = tokens.Verify(token);
            var principal = new ClaimsPrincipal(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, identity.User),
                new Claim(ClaimTypes.Name, identity.UserName),
                new Claim("company", identity.Company),
                new Claim(ClaimTypes.Role, identity.Role),
            ], SchemeName));
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
        }
        catch (ApiException e)
        {
            return Task.FromResult(AuthenticateResult.Fail(e.Message));
        }
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Redirect("/login?return=" + Uri.EscapeDataString(Request.Path + Request.QueryString));
        return Task.CompletedTask;
    }

    public static Identity ToIdentity(ClaimsPrincipal user) => new(
        user.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw ApiException.NoCredentials(),
        user.FindFirstValue(ClaimTypes.Name) ?? "",
        user.FindFirstValue("company") ?? "",
        user.FindFirstValue(ClaimTypes.Role) ?? "");
}
