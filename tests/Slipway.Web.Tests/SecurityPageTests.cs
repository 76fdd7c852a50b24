using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>The uploaded-page attack in a real browser, and the admins' users panel.</summary>
[Collection("web")]
public sealed class SecurityPageTests(WebFixture web)
{
    [Fact]
    public async Task An_uploaded_html_file_opened_by_a_signed_in_admin_downloads_instead_of_running()
    {
        const string attack = "<html><body><script>document.title = 'ran'; fetch('/').then(() => document.title = 'read');</script></body></html>";
        var url = await web.Client.Files.UploadAsync(new MemoryStream(Encoding.UTF8.GetBytes(attack)), "attack/page.html");
        await using var tab = await web.SignedInPageAsync();

        var download = await tab.Page.RunAndWaitForDownloadAsync(async () =>
        {
            try
            {
                await tab.Page.GotoAsync(url.ToString());
            }
            catch (PlaywrightException e) when (e.Message.Contains("Download is starting", StringComparison.Ordinal))
            {
                // Chromium reports a navigation that became a download this way.
            }
        });
        Assert.Equal("page.html", download.SuggestedFilename);
    }

    [Fact]
    public async Task A_script_on_another_port_of_the_site_can_neither_open_the_circuit_nor_post_to_the_ui()
    {
        await using var tab = await web.SignedInPageAsync();
        await NoFaviconAsync(tab);
        tab.ExpectConsoleErrors(e => e.Contains("403", StringComparison.Ordinal));
        // The API port is the same site but another origin: the place an uploaded page would run if it could run at all.
        await tab.Page.GotoAsync(new Uri(web.Server.ApiUrl, "health").ToString());
        var webUrl = web.Server.WebUrl.ToString().TrimEnd('/');
        var socket = await tab.Page.EvaluateAsync<string>("""
            url => new Promise(resolve => {
                const ws = new WebSocket(url.replace('http', 'ws') + '/_blazor');
                ws.onopen = () => resolve('open');
                ws.onerror = () => resolve('refused');
            })
            """, webUrl);
        Assert.Equal("refused", socket);
        var post = await tab.Page.EvaluateAsync<string>("""
            url => fetch(url + '/_blazor/negotiate?negotiateVersion=1', { method: 'POST', credentials: 'include', mode: 'no-cors' })
                .then(r => 'sent ' + r.type).catch(() => 'failed')
            """, webUrl);
        // A no-cors request is sent but opaque to the script; the server refused it (checked over HTTP in the server's tests).
        Assert.StartsWith("sent opaque", post, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_form_posted_from_another_origin_signs_nobody_in_and_the_return_path_stays_on_the_site()
    {
        await using var tab = await web.NewPageAsync();
        await NoFaviconAsync(tab);
        tab.ExpectConsoleErrors(e => e.Contains("403", StringComparison.Ordinal));
        // A page of another origin (the API port: same site, another origin) posts the sign-in form with valid keys.
        await tab.Page.GotoAsync(new Uri(web.Server.ApiUrl, "health").ToString());
        await tab.Page.SetContentAsync($"""
            <form method="post" action="{web.Server.WebUrl}auth/login">
              <input name="access_key" value="{web.Server.NewAdmin!.AccessKey}"><input name="secret_key" value="{web.Server.NewAdmin!.SecretKey}">
              <input name="return" value="/settings"></form>
            """);
        var answer = tab.Page.WaitForResponseAsync(r => r.Url.Contains("/auth/login", StringComparison.Ordinal));
        await tab.Page.EvalOnSelectorAsync("form", "f => f.submit()");
        Assert.Equal(403, (await answer).Status);
        await tab.Page.WaitForURLAsync("**/auth/login");
        Assert.DoesNotContain(await tab.Page.Context.CookiesAsync([web.Server.WebUrl.ToString()]), c => c.Name == "clearml_token_basic");

        // Signing in from a link whose return path would leave the site (a tab makes "//host") lands on the site.
        await tab.GotoAsync("login?return=/%09/evil.example/");
        await tab.Page.FillAsync("input[name=access_key]", web.Server.NewAdmin!.AccessKey);
        await tab.Page.FillAsync("input[name=secret_key]", web.Server.NewAdmin!.SecretKey);
        await tab.Page.ClickAsync("button[type=submit]");
        await tab.Page.WaitForSelectorAsync("nav.sidebar");
        Assert.Equal(web.Server.WebUrl.Authority, new Uri(tab.Page.Url).Authority);
    }

    [Fact]
    public async Task An_admin_changes_a_users_role_disables_and_deletes_them_from_settings()
    {
        var name = "member-" + Guid.NewGuid().ToString("N")[..6];
        var id = (await web.ApiAsync("users.create", new JsonObject { ["name"] = name, ["role"] = "member" }))["id"]!.GetValue<string>();
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("settings");
        var row = tab.Page.Locator($"tr[data-user='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("active");

        await row.GetByLabel($"Role of {name}").SelectOptionAsync("viewer");
        await Assertions.Expect(row.GetByLabel($"Role of {name}")).ToHaveValueAsync("viewer");
        await row.GetByRole(AriaRole.Button, new() { Name = "Disable" }).ClickAsync();
        await Assertions.Expect(row).ToContainTextAsync("disabled");
        var user = (await web.ApiAsync("users.get_all", new JsonObject { ["id"] = id }))["users"]![0]!;
        Assert.Equal(("viewer", true), (user["role"]!.GetValue<string>(), user["disabled"]!.GetValue<bool>()));
        await Assertions.Expect(tab.Page.Locator(".audit-list")).ToContainTextAsync("user_updated");
        await tab.ScreenshotAsync("settings-users");

        await row.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Delete now" }).ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        Assert.Empty((await web.ApiAsync("users.get_all", new JsonObject { ["id"] = id }))["users"]!.AsArray());
    }

    /// <summary>The API port has no favicon (it answers the API only): the browser's request for one would be a console error.</summary>
    private static Task NoFaviconAsync(BrowserPage tab) =>
        tab.Page.RouteAsync("**/favicon.ico", route => route.FulfillAsync(new RouteFulfillOptions { Status = 204 }));
}
