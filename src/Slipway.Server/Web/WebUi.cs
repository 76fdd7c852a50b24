using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Slipway.Server.Api;

namespace Slipway.Server.Web;

/// <summary>The web UI: Blazor components rendered on the server (interactive over a WebSocket), on the web port.</summary>
public static class WebUi
{
    public static void AddWebUi(this IServiceCollection services, ServerOptions options)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddAuthentication(TokenCookie.SchemeName).AddScheme<AuthenticationSchemeOptions, TokenCookie>(TokenCookie.SchemeName, null);
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
        var router = app.Services.GetRequiredService<RpcRouter>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapGet("/assets/{name}", (HttpContext http, string name) => assets.ServeAsync(http, name));
        app.MapPost("/auth/login", async (HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var back = SafeReturn(form["return"].ToString());
            try
            {
                var token = await WebApi.LoginAsync(router, form["access_key"].ToString().Trim(), form["secret_key"].ToString().Trim(), http.RequestAborted);
                http.Response.Cookies.Append(TokenCookie.Name, token, new CookieOptions
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
        }).DisableAntiforgery();
        app.MapPost("/auth/logout", (HttpContext http) =>
        {
            http.Response.Cookies.Delete(TokenCookie.Name, new CookieOptions { Path = "/" });
            return Results.Redirect("/login");
        }).DisableAntiforgery();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
    }

    /// <summary>Only a path on this site may be returned to after signing in.</summary>
    private static string SafeReturn(string path) =>
        path.StartsWith('/') && !path.StartsWith("//", StringComparison.Ordinal) && !path.Contains('\\', StringComparison.Ordinal) ? path : "/";
}
