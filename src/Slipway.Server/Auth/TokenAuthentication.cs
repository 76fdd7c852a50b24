using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Slipway.Server.Core;

namespace Slipway.Server.Auth;

/// <summary>
/// The one reader of credentials, the default scheme for every port: a Bearer header, or else the web UI's
/// <c>clearml_token_basic</c> cookie (the name ClearML's web app uses). It only says who the caller is and how they proved it;
/// whether a cookie is acceptable is each consumer's rule (see <see cref="HttpContextCaller"/>). A refused token fails with
/// its <see cref="ApiException"/> (the envelope's code and reason), and the source it came in, so a consumer that would not
/// accept that source anyway answers as though nothing was sent.
/// </summary>
public sealed partial class TokenAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    Authenticator authenticator) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "slipway-token";
    internal const string SourceItem = "source";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (TokenOf(Request) is not var (token, source))
            return AuthenticateResult.NoResult();
        try
        {
            var caller = await authenticator.AuthenticateAsync(token, Context.RequestAborted);
            return AuthenticateResult.Success(new AuthenticationTicket(new CallerPrincipal(caller, source, token), SchemeName));
        }
        catch (ApiException e)
        {
            Log.Refused(Logger, source, e.Message);
            return AuthenticateResult.Fail(e, new AuthenticationProperties(new Dictionary<string, string?> { [SourceItem] = source.ToString() }));
        }
    }

    /// <summary>The Bearer header wins over the cookie, so a client that sends both is the client it says it is.</summary>
    private static (string, CredentialSource)? TokenOf(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return (header["Bearer ".Length..].Trim(), CredentialSource.Bearer);
        return request.Cookies.TryGetValue(Authenticator.CookieName, out var value) && !string.IsNullOrEmpty(value)
            ? (value, CredentialSource.Cookie)
            : null;
    }

    /// <summary>Only the web UI's pages challenge (through authorization); a browser is sent to sign in and come back.</summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Redirect("/login?return=" + Uri.EscapeDataString(Request.Path + Request.QueryString));
        return Task.CompletedTask;
    }

    private static partial class Log
    {
        // Expired sessions are routine, so this is below the default level; turn it on to see why requests are refused.
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Refused a {Source} token: {Reason}")]
        public static partial void Refused(ILogger logger, CredentialSource source, string reason);
    }
}
