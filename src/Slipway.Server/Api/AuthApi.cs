using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Queues;
using Slipway.Server.Storage;
using Slipway.Wire;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server.Api;

/// <summary>auth.* and users.*: key pairs per user, login to a JWT, who the caller is, and (for admins) users and their roles.</summary>
public sealed class AuthApi(IDocumentStore docs, TokenService tokens, Authenticator authenticator, SecurityEpoch epoch, LoginThrottle throttle, AuditLog audit,
    QueueResolver queues, ServerOptions options, TimeProvider clock)
{
    // Compared against when an access key is unknown, so that a wrong key costs the same time as a wrong secret.
    private static readonly string UnknownKeyHash = SecretHash.Create(SecretHash.NewKey(48));

    public void Map(RpcRouter router)
    {
        router.Add("auth.login", Login, "expiration_sec", anonymous: true);
        router.Add("auth.validate_token", ValidateToken, "token");
        router.Add("auth.create_credentials", CreateCredentials, "label user");
        router.Add("auth.get_credentials", GetCredentials, "user");
        router.Add("auth.revoke_credentials", RevokeCredentials, "access_key");
        router.Add("users.get_current_user", GetCurrentUser, "get_supported_features");
        router.Add("users.get_all", GetAllUsers, "id name only_fields all_tenants");
        router.Add("users.create", CreateUser, "name role company");
        router.Add("users.update", UpdateUser, "user role disabled name");
        router.Add("users.delete", DeleteUser, "user");
    }

    /// <summary>
    /// Basic access:secret issues a token; a Bearer token is re-issued only while its key and user are still good (the
    /// endpoint checked that), and never for longer than the server's token lifetime.
    /// </summary>
    private async ValueTask<JsonNode?> Login(RpcCall call)
    {
        var lifetime = options.TokenLifetime;
        if (call.Long("expiration_sec") is { } seconds)
            lifetime = TimeSpan.FromSeconds(Math.Clamp(seconds, 60, (long)options.TokenLifetime.TotalSeconds));
        var identity = call.Identity ?? await IdentityFromBasicAsync(call);
        return new JsonObject { ["token"] = tokens.Issue(identity, identity.AccessKey!, lifetime) };
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
        throttle.Check(accessKey, call.RemoteIp);
        var credentials = accessKey.Length <= 64 ? await docs.GetAsync(Collection.Credentials, accessKey, call.Aborted) : null;
        var secretMatches = SecretHash.Matches(credentials is null ? UnknownKeyHash : Json.GetString(credentials.Body, "secret_hash") ?? UnknownKeyHash, secret);
        var identity = credentials is not null && secretMatches ? await authenticator.IdentityOfKeyAsync(credentials, call.Aborted) : null;
        if (identity is null)
        {
            throttle.Failed(accessKey, call.RemoteIp);
            // The owner is looked up for an unknown key too (under no id), so that a wrong secret for a real key takes as long.
            var owner = await docs.GetAsync<UserDocument>(credentials is null ? "" : Json.GetString(credentials.Body, "user") ?? "", call.Aborted);
            await audit.RecordAsync("login_failed", null, call.RemoteIp, new JsonObject { ["access_key"] = accessKey.Length <= 64 ? accessKey : accessKey[..64] },
                owner is null ? null : Tenants.Of(owner.Company));
            throw ApiException.InvalidCredentials();
        }
        throttle.Succeeded(accessKey);
        var body = (JsonObject)credentials!.Body.DeepClone();
        body["last_used"] = Json.Timestamp(clock.GetUtcNow());
        await docs.ReplaceAsync(Collection.Credentials, credentials, body, call.Aborted);
        await audit.RecordAsync("login", identity, call.RemoteIp, new JsonObject { ["access_key"] = accessKey });
        return identity;
    }

    private async ValueTask<JsonNode?> ValidateToken(RpcCall call)
    {
        try
        {
            var identity = await authenticator.AuthenticateAsync(call.RequireString("token"), call.Aborted);
            return new JsonObject { ["valid"] = true, ["user"] = identity.User, ["company"] = identity.Company };
        }
        catch (ApiException e) when (e.Code == 401)
        {
            return new JsonObject { ["valid"] = false, ["msg"] = e.Message };
        }
    }

    private async ValueTask<JsonNode?> CreateCredentials(RpcCall call)
    {
        var user = await TargetUserAsync(call);
        var (accessKey, secretKey) = await NewCredentialsAsync(docs, user, call.String("label"), clock, call.Aborted);
        await audit.RecordAsync("credentials_created", call.Caller, call.RemoteIp, new JsonObject { ["access_key"] = accessKey, ["for_user"] = user });
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
        var owner = credentials is null ? null : await docs.GetAsync<UserDocument>(Json.GetString(credentials.Body, "user") ?? "", call.Aborted);
        var mine = owner?.Id == call.Caller.User;
        var administered = call.Caller.IsAdmin && owner is not null && Tenants.Of(owner.Company) == call.Caller.Company;
        if (credentials is null || !(mine || administered))
            throw ApiException.InvalidId($"Invalid access key (key={accessKey})");
        await docs.DeleteAsync(Collection.Credentials, accessKey, CancellationToken.None);
        await epoch.BumpAsync();
        await audit.RecordAsync("credentials_revoked", call.Caller, call.RemoteIp,
            new JsonObject { ["access_key"] = accessKey, ["for_user"] = Json.GetString(credentials.Body, "user") });
        return new JsonObject { ["revoked"] = 1 };
    }

    private async ValueTask<JsonNode?> GetCurrentUser(RpcCall call)
    {
        var user = await docs.GetAsync<UserDocument>(call.Caller.User, call.Aborted) ?? throw ApiException.InvalidCredentials();
        return new JsonObject
        {
            ["user"] = new JsonObject
            {
                [DocumentFields.Id] = user.Id,
                [DocumentFields.Name] = user.Name,
                [DocumentFields.Company] = new JsonObject { ["id"] = call.Caller.Company, ["name"] = call.Caller.Company },
                [UserFields.Role] = Roles.Normalize(user.Role),
                [DocumentFields.Created] = user.Created,
            },
        };
    }

    private async ValueTask<JsonNode?> GetAllUsers(RpcCall call)
    {
        var query = new DocQuery();
        if (call.StringList("id") is { } ids)
            query.Where(new FieldIn(DocumentFields.Id, ids));
        if (call.String(DocumentFields.Name) is { Length: > 0 } name)
            query.Where(new FieldMatches(DocumentFields.Name, ListRequest.CheckedPattern(name, DocumentFields.Name)));
        query.OrderBy.Add(new SortKey(DocumentFields.Name, false));
        var users = await docs.FindAsync(Collection.Users, query, call.Aborted);
        var onlyFields = call.StringList("only_fields");
        // The first tenant's admins make the other tenants, so they may list every tenant's users.
        var allTenants = call.Bool("all_tenants");
        if (allTenants && (!call.Caller.IsAdmin || call.Caller.Company != Tenants.Root))
            throw RouteAccess.Forbidden("all_tenants: only admins of the first tenant see other tenants");
        return new JsonObject
        {
            ["users"] = new JsonArray(users.Select(u => (Stored: u, User: u.As<UserDocument>()))
                .Where(u => allTenants || Tenants.Of(u.User.Company) == call.Caller.Company).Select(u =>
                {
                    // The answer spells out what older documents leave implicit: the tenant, the role, not disabled.
                    var body = (JsonObject)u.Stored.Body.DeepClone();
                    body[DocumentFields.Company] = Tenants.Of(u.User.Company);
                    body[UserFields.Role] = Roles.Normalize(u.User.Role);
                    body[UserFields.Disabled] = u.User.Disabled;
                    return (JsonNode)Json.Project(body, onlyFields);
                }).ToArray()),
        };
    }

    private async ValueTask<JsonNode?> CreateUser(RpcCall call)
    {
        RequireAdmin(call);
        var role = ParseRole(call.String("role") ?? Roles.Member);
        // An admin of the first tenant makes other tenants, by giving their first user a company of its own.
        var company = call.String("company") is { Length: > 0 } given ? given : call.Caller.Company;
        if (company != call.Caller.Company && call.Caller.Company != Tenants.Root)
            throw RouteAccess.Forbidden("only an admin of the first tenant adds users to other tenants");
        var id = await CreateUserAsync(docs, call.RequireString("name"), role, company, clock, call.Aborted);
        await queues.EnsureDefaultAsync(new Identity(id, call.RequireString("name"), company, role), CancellationToken.None);
        await audit.RecordAsync("user_created", call.Caller, call.RemoteIp, new JsonObject
        {
            ["target"] = id, ["name"] = call.String("name"), ["role"] = role, ["tenant"] = company,
        });
        return new JsonObject { ["id"] = id };
    }

    /// <summary>An admin changes a user's role, name or whether they may sign in; their tokens follow at once.</summary>
    private async ValueTask<JsonNode?> UpdateUser(RpcCall call)
    {
        RequireAdmin(call);
        var id = call.RequireString("user");
        var role = call.String("role") is { } given ? ParseRole(given) : null;
        var disabled = call.Has("disabled") ? call.Bool("disabled") : (bool?)null;
        var name = call.String("name");
        if (name is { Length: 0 })
            throw ApiException.Validation("name must not be empty");
        for (var attempt = 0; ; attempt++)
        {
            var user = await RequireUserAsync(id, call);
            var before = user.As<UserDocument>();
            var after = before with { Role = role ?? before.Role, Disabled = disabled ?? before.Disabled, Name = name ?? before.Name };
            if (IsEnabledAdmin(before) && !IsEnabledAdmin(after))
                await RequireAnotherAdminAsync(user, call);
            var body = (JsonObject)user.Body.DeepClone();
            DocumentJson.Apply(body, before, after);
            if (await docs.ReplaceAsync(Collection.Users, user, body, CancellationToken.None))
                break;
            if (attempt == 10)
                throw ApiException.StatusRace(id);
        }
        await epoch.BumpAsync();
        await audit.RecordAsync("user_updated", call.Caller, call.RemoteIp, new JsonObject
        {
            ["target"] = id, ["role"] = role, ["disabled"] = disabled, ["name"] = name,
        });
        return new JsonObject { ["updated"] = 1 };
    }

    /// <summary>Deletes a user and every key pair of theirs; what they made (tasks, models, projects) stays, under their id.</summary>
    private async ValueTask<JsonNode?> DeleteUser(RpcCall call)
    {
        RequireAdmin(call);
        var id = call.RequireString("user");
        var user = await RequireUserAsync(id, call);
        if (IsEnabledAdmin(user.As<UserDocument>()))
            await RequireAnotherAdminAsync(user, call);
        var keys = await docs.FindAsync(Collection.Credentials, new DocQuery().Where(new FieldIn("user", [id])), call.Aborted);
        foreach (var key in keys)
            await docs.DeleteAsync(Collection.Credentials, key.Id, CancellationToken.None);
        await docs.DeleteAsync(Collection.Users, id, CancellationToken.None);
        await epoch.BumpAsync();
        await audit.RecordAsync("user_deleted", call.Caller, call.RemoteIp, new JsonObject
        {
            ["target"] = id, ["name"] = user.As<UserDocument>().Name, ["keys_revoked"] = keys.Count,
        });
        return new JsonObject { ["deleted"] = 1 };
    }

    /// <summary>A user the caller manages: one of its tenant, or of any tenant for the first tenant's admins (who make the tenants).</summary>
    private async Task<StoredDoc> RequireUserAsync(string id, RpcCall call) =>
        await docs.GetAsync(Collection.Users, id, call.Aborted) is { } user
        && (Tenants.Of(user.As<UserDocument>().Company) == call.Caller.Company || (call.Caller.IsAdmin && call.Caller.Company == Tenants.Root))
            ? user
            : throw ApiException.InvalidId($"Invalid user id (id={id})");

    /// <summary>The last enabled admin of a tenant cannot be demoted, disabled or deleted: nobody could manage it after.</summary>
    private async Task RequireAnotherAdminAsync(StoredDoc user, RpcCall call)
    {
        var id = user.Id;
        var tenant = Tenants.Of(user.As<UserDocument>().Company);
        var admins = await docs.FindAsync<UserDocument>(new DocQuery().Where(new FieldIn(UserFields.Role, [Roles.Admin])), call.Aborted);
        if (!admins.Any(a => a.Id != id && !a.Disabled && Tenants.Of(a.Company) == tenant))
            throw new ApiException(400, 0, "Refused: this is the last enabled admin (make another admin first)");
    }

    private static bool IsEnabledAdmin(UserDocument user) => Roles.Normalize(user.Role) == Roles.Admin && !user.Disabled;

    private static string ParseRole(string given) =>
        Roles.Parse(given) ?? throw ApiException.Validation($"role must be one of {string.Join(", ", Roles.Assignable)}");

    private async Task<string> TargetUserAsync(RpcCall call)
    {
        if (call.String("user") is not { Length: > 0 } user || user == call.Caller.User)
            return call.Caller.User;
        RequireAdmin(call);
        return (await RequireUserAsync(user, call)).Id; // the first tenant's admins hand a new tenant's first admin its keys
    }

    private static void RequireAdmin(RpcCall call)
    {
        if (!call.Caller.IsAdmin)
            throw RouteAccess.Forbidden("admin role required");
    }

    public static async Task<string> CreateUserAsync(IDocumentStore docs, string name, string role, string company, TimeProvider clock, CancellationToken ct)
    {
        var user = new UserDocument { Id = Guid.NewGuid().ToString("N"), Name = name, Role = role, Company = company, Created = Json.Timestamp(clock.GetUtcNow()) };
        await docs.InsertAsync(user, ct);
        return user.Id;
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
