using Microsoft.AspNetCore.Authentication;
using Slipway.Server.Core;

namespace Slipway.Server.Auth;

/// <summary>How every consumer reads the caller <see cref="TokenAuthentication"/> found (once per request), under its own rule.</summary>
public static class HttpContextCaller
{
    /// <summary>
    /// The caller, or the 401 the API answers: without credentials, or with a refused token. Where <paramref name="cookieAccepted"/>
    /// is false a cookie counts as no credentials at all (the API port refuses it on purpose: a page on the same site could act with it).
    /// </summary>
    public static async ValueTask<Identity> CallerAsync(this HttpContext http, bool cookieAccepted)
    {
        var result = await http.AuthenticateAsync(TokenAuthentication.SchemeName);
        if (result.Succeeded && result.Principal is CallerPrincipal principal)
            return Accepted(principal.Source, cookieAccepted) ? principal.Caller : throw ApiException.NoCredentials();
        if (result.Failure is ApiException refused && Enum.TryParse<CredentialSource>(result.Properties?.Items[TokenAuthentication.SourceItem], out var source)
            && Accepted(source, cookieAccepted))
            throw refused;
        throw ApiException.NoCredentials();
    }

    /// <summary>The caller when they sent an acceptable token that is still good; null otherwise (for routes open to anyone).</summary>
    public static async ValueTask<Identity?> CallerOrNullAsync(this HttpContext http, bool cookieAccepted)
    {
        var result = await http.AuthenticateAsync(TokenAuthentication.SchemeName);
        return result.Succeeded && result.Principal is CallerPrincipal principal && Accepted(principal.Source, cookieAccepted) ? principal.Caller : null;
    }

    private static bool Accepted(CredentialSource source, bool cookieAccepted) => source == CredentialSource.Bearer || cookieAccepted;
}
