using System.Net;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>Getting around the UI: no address leads to a dead end, and the sidebar says where one is.</summary>
[Collection("web")]
public sealed class NavigationTests(WebFixture web)
{
    [Fact]
    public async Task An_unknown_address_shows_the_UI_not_found_page_with_a_404()
    {
        await using var tab = await web.SignedInPageAsync();
        tab.ExpectConsoleErrors(message => message.Contains("404", StringComparison.Ordinal));
        var response = await tab.Page.GotoAsync("no/such/page");
        Assert.Equal(404, response!.Status);
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync("Nothing at this address");
        await Assertions.Expect(tab.Page.Locator("nav.sidebar")).ToBeVisibleAsync();
        await tab.ScreenshotAsync("not-found");
        await tab.Page.ClickAsync("main >> a:text-is('Projects')");
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync("Projects");
    }

    [Fact]
    public async Task HEAD_is_answered_like_GET_without_a_body()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = web.Server.WebUrl };
        using var login = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "login"));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Empty(await login.Content.ReadAsByteArrayAsync());
        using var home = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"));
        Assert.Equal(HttpStatusCode.Redirect, home.StatusCode); // to the sign-in page, as a GET is
        Assert.StartsWith("/login", home.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_experiment_opened_from_a_project_keeps_the_project_in_the_sidebar_and_breadcrumb()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments");
        await tab.Page.ClickAsync($"tr[data-task='{web.Runs.Tuned}'] td.name a");
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync("resnet tuned lr");
        await Assertions.Expect(tab.Page.Locator("nav.sidebar a.active")).ToHaveTextAsync("Projects");
        await Assertions.Expect(tab.Page.Locator(".breadcrumb a")).ToContainTextAsync("resnet");
        await tab.Page.ClickAsync("nav.tabs a:text-is('Hyperparameters')");
        await Assertions.Expect(tab.Page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/projects/{web.Runs.ProjectId}/experiments/{web.Runs.Tuned}/hyperparameters$"));
        await Assertions.Expect(tab.Page.Locator("nav.sidebar a.active")).ToHaveTextAsync("Projects");

        await tab.GotoAsync($"experiments/{web.Runs.Tuned}");
        await Assertions.Expect(tab.Page.Locator("nav.sidebar a.active")).ToHaveTextAsync("Experiments");
    }
}
