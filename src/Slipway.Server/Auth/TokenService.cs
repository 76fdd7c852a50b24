using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Auth;

/// <summary>Issues and verifies HS256 JWTs. Clients read the claims unverified (api_version, feature_set, exp), so they follow the reference server's names.</summary>
public sealed class TokenService(byte[] secret, TimeProvider clock)
{
    public const string ServerVersion = "2.0.0";
    private static readonly byte[] Header = Encoding.UTF8.GetBytes(Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8));

    /// <param name="accessKey">The key pair the token was signed in with: the token is valid only while that key is.</param>
    public string Issue(Identity identity, string accessKey, TimeSpan lifetime)
    {
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var claims = new JsonObject
        {
            ["identity"] = new JsonObject
            {
                ["user"] = identity.User,
                ["company"] = identity.Company,
                ["role"] = identity.Role,
                ["user_name"] = identity.UserName,
                ["company_name"] = identity.Company,
            },
            ["key"] = accessKey,
            ["env"] = "<unknown>",
            ["api_version"] = ApiVersion.Actual,
            ["server_version"] = ServerVersion,
            ["server_build"] = "slipway",
            ["feature_set"] = "basic",
            ["session_id"] = Guid.NewGuid().ToString("N"),
            ["iat"] = now,
            ["exp"] = now + (long)lifetime.TotalSeconds,
        };
        var payload = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signingInput = Encoding.ASCII.GetString(Header) + "." + payload;
        return signingInput + "." + Base64Url.EncodeToString(Sign(signingInput));
    }

    /// <summary>Returns the user and key of a token whose signature and expiry are valid, or throws 401/30. Whether the key and user
    /// are still valid is <see cref="Authenticator"/>'s to check.</summary>
    public TokenClaims Verify(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
            throw ApiException.InvalidToken("malformed token");
        byte[] signature;
        byte[] payload;
        try
        {
            signature = Base64Url.DecodeFromChars(parts[2]);
            payload = Base64Url.DecodeFromChars(parts[1]);
        }
        catch (FormatException)
        {
            throw ApiException.InvalidToken("malformed token");
        }
        if (!CryptographicOperations.FixedTimeEquals(signature, Sign(parts[0] + "." + parts[1])))
            throw ApiException.InvalidToken("signature mismatch");
        try
        {
            using var doc = JsonDocument.Parse(payload);
            var root = doc.RootElement;
            if (root.TryGetProperty("exp", out var exp) && exp.GetInt64() < clock.GetUtcNow().ToUnixTimeSeconds())
                throw ApiException.InvalidToken("token expired");
            var user = root.GetProperty("identity").GetProperty("user").GetString()!;
            // Tokens issued before they named their key cannot be revoked with it, so they are refused; clients sign in again.
            var key = root.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : throw ApiException.InvalidToken("token from an older server; sign in again");
            return new TokenClaims(user, key);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw ApiException.InvalidToken("malformed claims");
        }
    }

    private byte[] Sign(string signingInput) => HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(signingInput));
}

/// <summary>What a verified token says: who signed in, with which key.</summary>
public sealed record TokenClaims(string User, string AccessKey);
