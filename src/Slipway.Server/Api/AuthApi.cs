using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Domain;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>auth.* and users.*: key pairs per user, login to a JWT, and who the caller is.</summary>
public sealed class AuthApi(IDocumentStore docs, TokenService tokens, ServerOptions options, TimeProvider clock)
{
    public void Map(RpcRouter router)
    {
        router.Add("auth.login", Login, "expiration_sec", anonymous: true);
        router.Add("auth.validate_token", ValidateToken, "token");
        router.Add("auth.create_credentials", CreateCredentials, "label user");
        router.Add("auth.get_credentials", GetCredentials, "user");
        router.Add("auth.revoke_credentials", RevokeCredentials, "access_key");
        router.Add("users.get_current_user", GetCurrentUser, "get_supported_features");
        router.Add("users.get_all", GetAllUsers, "id name only_fields");
        router.Add("users.create", CreateUser, "name role");
    }

    /// <summary>Basic access:secret issues a token; a valid Bearer token is re-issued for the same identity.</summary>
    private async ValueTask<JsonNode?> Login(RpcCall call)
    {
        var lifetime = options.TokenLifetime;
        if (call.Long("expiration_sec") is { } seconds)
            lifetime = TimeSpan.FromSeconds(Math.Clamp(seconds, 60, (long)options.TokenLifetime.TotalSeconds));
        var identity = call.Identity ?? await IdentityFromBasicAsync(call);
        return new JsonObject { ["token"] = tokens.Issue(identity, lifetime) };
    }

    private async Task<Identity> IdentityFromBasicAsync(RpcCall call)
    {
        var header = call.AuthorizationHeader;
        if (string.IsNullOrEmpty(header))
            throw ApiException.NoCredentials();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            throw ApiException.BadCredentials();
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
        }
        catch (FormatException)
        {
            throw ApiException.BadCredentials();
        }
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
            throw ApiException.BadCredentials();
        var (accessKey, secret) = (decoded[..colon], decoded[(colon + 1)..]);
        var credentials = await docs.GetAsync(Collection.Credentials, accessKey, call.Aborted);
        if (credentials is null || !SecretHash.Matches(Json.GetString(credentials.Body, "secret_hash") ?? "", secret))
            throw ApiException.InvalidCredentials();
        var user = await docs.GetAsync(Collection.Users, Json.GetString(credentials.Body, "user")!, call.Aborted)
                   ?? throw ApiException.InvalidCredentials();
        var body = (JsonObject)credentials.Body.DeepClone();
        body["last_used"] = Json.Timestamp(clock.GetUtcNow());
        await docs.ReplaceAsync(Collection.Credentials, credentials, body, call.Aborted);
        return ToIdentity(user.Body);
    }

    private ValueTask<JsonNode?> ValidateToken(RpcCall call)
    {
        try
        {
            var identity = tokens.Verify(call.RequireString("token"));
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["valid"] = true, ["user"] = identity.User, ["company"] = identity.Company });
        }
        catch (ApiException e) when (e.Code == 401)
        {
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["valid"] = false, ["msg"] = e.Message });
        }
    }

    private async ValueTask<JsonNode?> CreateCredentials(RpcCall call)
    {
        var user = await TargetUserAsync(call);
        var (accessKey, secretKey) = await NewCredentialsAsync(docs, user, call.String("label"), clock, call.Aborted);
        return new JsonObject { ["credentials"] = new JsonObject { ["access_key"] = accessKey, ["secret_key"] = secretKey, ["label"] = call.String("label") } };
    }

    private async ValueTask<JsonNode?> GetCredentials(RpcCall call)
    {
        var user = await TargetUserAsync(call);
        var found = await docs.FindAsync(Collection.Credentials, new DocQuery().Where(new FieldIn("user", [user])), call.Aborted);
        var list = new JsonArray(found.Select(c => (JsonNode)new JsonObject
        {
            ["access_key"] = c.Id,
            ["label"] = Json.GetString(c.Body, "label"),
            ["created"] = Json.GetString(c.Body, "created"),
            ["last_used"] = Json.GetString(c.Body, "last_used"),
        }).ToArray());
        return new JsonObject { ["credentials"] = list };
    }

    private async ValueTask<JsonNode?> RevokeCredentials(RpcCall call)
    {
        var accessKey = call.RequireString("access_key");
        var credentials = await docs.GetAsync(Collection.Credentials, accessKey, call.Aborted);
        if (credentials is null || (Json.GetString(credentials.Body, "user") != call.Caller.User && call.Caller.Role != "admin"))
            throw ApiException.InvalidId($"Invalid access key (key={accessKey})");
        await docs.DeleteAsync(Collection.Credentials, accessKey, call.Aborted);
        return new JsonObject { ["revoked"] = 1 };
    }

    private async ValueTask<JsonNode?> GetCurrentUser(RpcCall call)
    {
        var user = await docs.GetAsync(Collection.Users, call.Caller.User, call.Aborted) ?? throw ApiException.InvalidCredentials();
        return new JsonObject
        {
            ["user"] = new JsonObject
            {
                ["id"] = user.Id,
                ["name"] = Json.GetString(user.Body, "name"),
                ["company"] = new JsonObject { ["id"] = call.Caller.Company, ["name"] = call.Caller.Company },
                ["role"] = Json.GetString(user.Body, "role"),
                ["created"] = Json.GetString(user.Body, "created"),
            },
        };
    }

    private async ValueTask<JsonNode?> GetAllUsers(RpcCall call)
    {
        var query = new DocQuery();
        if (call.StringList("id") is { } ids)
            query.Where(new FieldIn("id", ids));
        if (call.String("name") is { Length: > 0 } name)
            query.Where(new FieldMatches("name", ListRequest.CheckedPattern(name, "name")));
        query.OrderBy.Add(new SortKey("name", false));
        var users = await docs.FindAsync(Collection.Users, query, call.Aborted);
        var onlyFields = call.StringList("only_fields");
        return new JsonObject { ["users"] = new JsonArray(users.Select(u => (JsonNode)Json.Project(u.Body, onlyFields)).ToArray()) };
    }

    private async ValueTask<JsonNode?> CreateUser(RpcCall call)
    {
        RequireAdmin(call);
        var role = call.String("role") ?? "user";
        if (role is not ("user" or "admin"))
            throw ApiException.Validation("role must be user or admin");
        var id = await CreateUserAsync(docs, call.RequireString("name"), role, call.Caller.Company, clock, call.Aborted);
        return new JsonObject { ["id"] = id };
    }

    private async Task<string> TargetUserAsync(RpcCall call)
    {
        if (call.String("user") is not { Length: > 0 } user || user == call.Caller.User)
            return call.Caller.User;
        RequireAdmin(call);
        return (await docs.GetAsync(Collection.Users, user, call.Aborted))?.Id ?? throw ApiException.InvalidId($"Invalid user id (id={user})");
    }

    private static void RequireAdmin(RpcCall call)
    {
        if (call.Caller.Role != "admin")
            throw new ApiException(403, 0, "Forbidden (admin role required)");
    }

    public static Identity ToIdentity(JsonObject user) =>
        new(user["id"]!.GetValue<string>(), Json.GetString(user, "name") ?? "", Json.GetString(user, "company") ?? "slipway", Json.GetString(user, "role") ?? "user");

    public static async Task<string> CreateUserAsync(IDocumentStore docs, string name, string role, string company, TimeProvider clock, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N");
        await docs.InsertAsync(Collection.Users, id, new JsonObject
        {
            ["id"] = id,
            ["name"] = name,
            ["role"] = role,
            ["company"] = company,
            ["created"] = Json.Timestamp(clock.GetUtcNow()),
        }, ct);
        return id;
    }

    public static async Task<(string AccessKey, string SecretKey)> NewCredentialsAsync(IDocumentStore docs, string user, string? label, TimeProvider clock, CancellationToken ct)
    {
        var accessKey = SecretHash.NewKey(20).ToUpperInvariant();
        var secretKey = SecretHash.NewKey(48);
        await docs.InsertAsync(Collection.Credentials, accessKey, new JsonObject
        {
            ["id"] = accessKey,
            ["user"] = user,
            ["label"] = label,
            ["secret_hash"] = SecretHash.Create(secretKey),
            ["created"] = Json.Timestamp(clock.GetUtcNow()),
        }, ct);
        return (accessKey, secretKey);
    }
}
