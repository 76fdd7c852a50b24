using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components.Authorization;
using Slipway.Server.Api;
using Slipway.Server.Storage;

namespace Slipway.Server.Web;

/// <summary>
/// How the pages read and change things: the API's own handlers, called in process as the signed-in user, so the
/// UI follows exactly the API's rules (state machine, clone, enqueue, validation) and shows its error messages.
/// </summary>
public sealed class WebApi(RpcRouter router, AuthenticationStateProvider authentication)
{
    private Identity? _identity;

    public async Task<Identity> IdentityAsync()
    {
        if (_identity is null)
        {
            var state = await authentication.GetAuthenticationStateAsync();
            _identity = TokenCookie.ToIdentity(state.User);
        }
        return _identity;
    }

    /// <summary>Calls <paramref name="endpoint"/>; returns its data, or throws <see cref="ApiException"/> with the API's code and message.</summary>
    public async Task<JsonObject> CallAsync(string endpoint, JsonObject body, CancellationToken ct = default) =>
        await InvokeAsync(router, endpoint, body, await IdentityAsync(), null, ct);

    /// <summary>auth.login with an access key and secret, as a client would sign in; returns the token.</summary>
    public static async Task<string> LoginAsync(RpcRouter router, string accessKey, string secretKey, CancellationToken ct)
    {
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{accessKey}:{secretKey}"));
        var data = await InvokeAsync(router, "auth.login", [], null, basic, ct);
        return data["token"]!.GetValue<string>();
    }

    private static async Task<JsonObject> InvokeAsync(RpcRouter router, string endpoint, JsonObject body, Identity? identity, string? authorization,
        CancellationToken ct)
    {
        var route = router.Find(endpoint) ?? throw ApiException.EndpointNotFound(endpoint);
        if (route.Fields is { } accepted && body.Select(p => p.Key).FirstOrDefault(k => !accepted.Contains(k)) is { } unknown)
            throw ApiException.Validation($"unknown field '{unknown}' for {endpoint}");
        // Through text, as on the wire: handlers read numbers as parsed JSON (a JsonValue built from an int is not a long).
        var parsed = RequestBody.ParseObject(System.Text.Encoding.UTF8.GetBytes(body.ToJsonString()));
        var call = new RpcCall(endpoint, null, parsed, identity, null, ct) { AuthorizationHeader = authorization };
        try
        {
            return await route.Handler(call) as JsonObject ?? [];
        }
        catch (InvalidQueryException e)
        {
            throw ApiException.Validation(e.Message);
        }
    }
}
