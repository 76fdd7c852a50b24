using System.Collections.Concurrent;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Auth;

/// <summary>
/// The one place a token becomes an <see cref="Identity"/>: <see cref="TokenAuthentication"/> asks here for every request, and
/// the web UI's open pages ask again on every call. A token is good only while its key exists and its user is enabled, and the role and tenant come from the user
/// record as it is now, so revoking a key, disabling a user or changing a role takes effect on the next request, on every
/// replica. What makes that cheap is the <see cref="SecurityEpoch"/>: each request reads it (one primary-key read) and reuses
/// what it last found for the key until the counter moves.
/// </summary>
public sealed class Authenticator(TokenService tokens, IDocumentStore docs, SecurityEpoch epochs)
{
    public const string CookieName = "clearml_token_basic";
    private const int MaxCached = 10_000;

    private readonly ConcurrentDictionary<string, Checked> _checked = new(StringComparer.Ordinal);

    private sealed record Checked(long Epoch, string User, Identity? Identity, string? Refusal);

    /// <summary>The identity a token stands for now, or 401.</summary>
    public async ValueTask<Identity> AuthenticateAsync(string token, CancellationToken ct)
    {
        var claims = tokens.Verify(token);
        var epoch = await epochs.ReadAsync(ct);
        if (!_checked.TryGetValue(claims.AccessKey, out var known) || known.Epoch != epoch || known.User != claims.User)
        {
            known = await CheckAsync(claims, epoch, ct);
            if (_checked.Count >= MaxCached)
                _checked.Clear();
            _checked[claims.AccessKey] = known;
        }
        return known.Identity ?? throw ApiException.InvalidToken(known.Refusal!);
    }

    /// <summary>A key pair's identity, for signing in: the key must exist and its user be enabled.</summary>
    public async Task<Identity?> IdentityOfKeyAsync(StoredDoc credentials, CancellationToken ct)
    {
        var user = await docs.GetAsync<UserDocument>(Json.GetString(credentials.Body, "user") ?? "", ct);
        return user is null || user.Disabled ? null : ToIdentity(user) with { AccessKey = credentials.Id };
    }

    public static Identity ToIdentity(UserDocument user) => new(user.Id, user.Name ?? "", Tenants.Of(user.Company), Roles.Normalize(user.Role));

    private async Task<Checked> CheckAsync(TokenClaims claims, long epoch, CancellationToken ct)
    {
        var credentials = await docs.GetAsync(Collection.Credentials, claims.AccessKey, ct);
        if (credentials is null || Json.GetString(credentials.Body, "user") != claims.User)
            return new Checked(epoch, claims.User, null, "its key was revoked");
        return await IdentityOfKeyAsync(credentials, ct) is { } identity
            ? new Checked(epoch, claims.User, identity with { Epoch = epoch }, null)
            : new Checked(epoch, claims.User, null, "its user is disabled or deleted");
    }
}
