using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>Settings → Users: an admin adds users with a role (and, in the first tenant, a workspace), changes roles and disables users.</summary>
[Collection("web")]
public sealed class UsersPageTests(WebFixture web)
{
    [Fact]
    public async Task An_admin_adds_users_in_this_and_a_new_workspace_and_changes_their_role()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        await tab.GotoAsync("settings");
        var users = page.Locator("section.users");

        await users.Locator("input[aria-label=\"New user's name\"]").FillAsync("dana " + suffix);
        await users.Locator("select[aria-label=\"New user's role\"]").SelectOptionAsync("viewer");
        await users.Locator("button:text-is('Add user')").ClickAsync();
        await Assertions.Expect(users.Locator(".new-user")).ToContainTextAsync("dana " + suffix);
        var secret = await users.Locator(".new-user code.secret-key").TextContentAsync();
        Assert.False(string.IsNullOrEmpty(secret));
        var dana = users.Locator("table.users-list tr", new() { HasText = "dana " + suffix });
        await Assertions.Expect(dana.Locator("td.workspace")).ToHaveTextAsync("slipway");
        await dana.Locator("select").SelectOptionAsync("member");
        await Assertions.Expect(dana.Locator("select")).ToHaveValueAsync("member");

        await users.Locator("input[aria-label=\"New user's name\"]").FillAsync("erin " + suffix);
        await users.Locator("select[aria-label=\"New user's role\"]").SelectOptionAsync("admin");
        await users.Locator("input[aria-label=\"New user's workspace\"]").FillAsync("acme-" + suffix);
        await users.Locator("button:text-is('Add user')").ClickAsync();
        await Assertions.Expect(users.Locator(".new-user")).ToContainTextAsync("workspace acme-" + suffix);
        var erin = users.Locator("table.users-list tr", new() { HasText = "erin " + suffix });
        await Assertions.Expect(erin.Locator("td.workspace")).ToHaveTextAsync("acme-" + suffix);
        await tab.ScreenshotAsync("settings-users");

        var all = (await web.ApiAsync("users.get_all", new JsonObject { ["all_tenants"] = true }))["users"]!.AsArray();
        Assert.Equal("member", all.Single(u => u!["name"]!.GetValue<string>() == "dana " + suffix)!["role"]!.GetValue<string>());
        Assert.Equal("acme-" + suffix, all.Single(u => u!["name"]!.GetValue<string>() == "erin " + suffix)!["company"]!.GetValue<string>());
    }
}
