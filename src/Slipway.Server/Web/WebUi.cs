using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Api;
using Slipway.Server.Auth;
using Slipway.Server.Core;

namespace Slipway.Server.Web;

/// <summary>The web UI: Blazor components rendered on the server (interactive over a WebSocket), on the web port.</summary>
public static class WebUi
{
    public static void AddWebUi(this IServiceCollection services, ServerOptions options)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddAuthorization();
        services.AddCascadingAuthenticationState();
        // Circuit and antiforgery keys; kept with the data so that open pages survive a restart.
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(options.DataDir, "web-keys")));
        services.AddSingleton<WebAssets>();
        services.AddScoped<WebApi>();
    }

    public static void MapWebUi(this WebApplication app, ServerOptions options)
    {
        var assets = app.Services.GetRequiredService<WebAssets>();
        var pipeline = app.Services.GetRequiredService<RpcPipeline>();
        var antiforgery = app.Services.GetRequiredService<IAntiforgery>();
        app.Use(async (http, next) =>
        {
            if (CrossOrigin(http.Request))
            {
                http.Response.StatusCode = StatusCodes.Status403Forbidden;
                await http.Response.WriteAsync("cross-origin request refused\n");
                return;
            }
            await next(http);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapGet("/assets/{name}", (HttpContext http, string name) => assets.ServeAsync(http, name));
        app.MapPost("/auth/login", async (HttpContext http) =>
        {
            if (!await IsValidFormAsync(antiforgery, http))
                return Results.Redirect("/login?error=" + Uri.EscapeDataString("The sign-in form expired; please try again."));
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var back = SafeReturn(form["return"].ToString());
            try
            {
                var token = await WebApi.LoginAsync(pipeline, form["access_key"].ToString().Trim(), form["secret_key"].ToString().Trim(),
                    http.Connection.RemoteIpAddress?.ToString(), http.RequestAborted);
                http.Response.Cookies.Append(Authenticator.CookieName, token, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Secure = http.Request.IsHttps,
                    MaxAge = options.TokenLifetime,
                    Path = "/",
                });
                return Results.Redirect(back);
            }
            catch (ApiException e)
            {
                return Results.Redirect($"/login?error={Uri.EscapeDataString(e.Message)}&return={Uri.EscapeDataString(back)}");
            }
        }).DisableAntiforgery(); // validated in the handler, which answers a stale form with a message rather than a bare 400
        app.MapPost("/auth/logout", async (HttpContext http) =>
        {
            if (!await IsValidFormAsync(antiforgery, http))
                return Results.BadRequest("the sign-out form expired; reload the page");
            http.Response.Cookies.Delete(Authenticator.CookieName, new CookieOptions { Path = "/" });
            return Results.Redirect("/login");
        }).DisableAntiforgery();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
    }

    /// <summary>
    /// Only a path on this site may be returned to after signing in. Browsers drop tabs and newlines from addresses and read
    /// a backslash as a slash, so "/\t/host" or "/\\host" would leave the site: any such character makes it "/".
    /// </summary>
    public static string SafeReturn(string path) =>
        path.Length > 0 && path[0] == '/' && (path.Length == 1 || path[1] is not ('/' or '\\'))
        && !path.Any(c => c <= ' ' || c == '\\' || c == '\u007f' || char.IsWhiteSpace(c)) ? path : "/";

    /// <summary>The sign-in and sign-out forms carry an antiforgery token, so another site cannot sign a browser in or out.</summary>
    private static async Task<bool> IsValidFormAsync(IAntiforgery antiforgery, HttpContext http)
    {
        try
        {
            await antiforgery.ValidateRequestAsync(http);
            return true;
        }
        catch (AntiforgeryValidationException)
        {
            return false;
        }
    }

    /// <summary>
    /// A request that could act with the UI's cookie (the circuit's WebSocket and its negotiation, or any form post carrying
    /// the cookie) must come from a page of this origin: the browser's Origin (or, without one, Sec-Fetch-Site) says where
    /// it came from. A page of another port is another origin, so an uploaded file on the file server cannot drive the UI.
    /// </summary>
    public static bool CrossOrigin(HttpRequest request)
    {
        var risky = request.Path.StartsWithSegments("/_blazor", StringComparison.OrdinalIgnoreCase)
            || (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method)
                && (request.Cookies.ContainsKey(Authenticator.CookieName) || request.Path.StartsWithSegments("/auth", StringComparison.OrdinalIgnoreCase)));
        if (!risky)
            return false;
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0)
            return !string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        return site.Length > 0 && site is not ("same-origin" or "none");
    }
}
