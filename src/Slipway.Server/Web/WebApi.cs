using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components.Authorization;
using Slipway.Server.Api;
using Slipway.Server.Auth;
using Slipway.Server.Core;

namespace Slipway.Server.Web;

/// <summary>
/// How the pages read and change things: the API's own handlers, called in process as the signed-in user, so the
/// UI follows exactly the API's rules (state machine, clone, enqueue, validation, permissions) and shows its error messages.
/// Each call checks the page's token again, so a revoked key or a changed role applies to pages already open.
/// </summary>
public sealed class WebApi(RpcPipeline pipeline, Authenticator authenticator, AuthenticationStateProvider authentication)
{
    private string? _token;

    public async Task<Identity> IdentityAsync(CancellationToken ct = default)
    {
        _token ??= (await authentication.GetAuthenticationStateAsync()).User is CallerPrincipal { Source: CredentialSource.Cookie } page
            ? page.Token
            : throw ApiException.NoCredentials();
        return await authenticator.AuthenticateAsync(_token, ct);
    }

    /// <summary>Calls <paramref name="endpoint"/>; returns its data, or throws <see cref="ApiException"/> with the API's code and message.</summary>
    public async Task<JsonObject> CallAsync(string endpoint, JsonObject body, CancellationToken ct = default) =>
        await InvokeAsync(pipeline, endpoint, body, await IdentityAsync(ct), null, null, ct);

    /// <summary>auth.login with an access key and secret, as a client would sign in; returns the token.</summary>
    public static async Task<string> LoginAsync(RpcPipeline pipeline, string accessKey, string secretKey, string? address, CancellationToken ct)
    {
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{accessKey}:{secretKey}"));
        var data = await InvokeAsync(pipeline, "auth.login", [], null, basic, address, ct);
        return data["token"]!.GetValue<string>();
    }

    private static async Task<JsonObject> InvokeAsync(RpcPipeline pipeline, string endpoint, JsonObject body, Identity? identity, string? authorization,
        string? address, CancellationToken ct)
    {
        // Through text, as on the wire: handlers read numbers as parsed JSON (a JsonValue built from an int is not a long).
        var parsed = RequestBody.ParseObject(Encoding.UTF8.GetBytes(body.ToJsonString()));
        var call = new RpcCall(endpoint, null, parsed, identity, null, ct) { AuthorizationHeader = authorization, RemoteIp = address };
        return await pipeline.InvokeAsync(pipeline.Find(endpoint), call) as JsonObject ?? [];
    }
}
