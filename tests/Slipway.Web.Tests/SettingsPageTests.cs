using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

[Collection("web")]
public sealed class SettingsPageTests(WebFixture web)
{
    [Fact]
    public async Task New_credentials_come_with_a_clearml_conf_snippet_work_against_the_api_and_can_be_revoked()
    {
        var label = "ci runner " + Guid.NewGuid().ToString("N")[..6];
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("settings");
        await Assertions.Expect(tab.Page.Locator($"tr[data-key='{web.Server.NewAdmin!.AccessKey}']")).ToBeVisibleAsync();

        await tab.Page.GetByLabel("Credentials label").FillAsync(label);
        await tab.Page.GetByRole(AriaRole.Button, new() { Name = "Create credentials" }).ClickAsync();
        var fresh = tab.Page.Locator(".new-credentials");
        await Assertions.Expect(fresh).ToContainTextAsync(label);
        var accessKey = await fresh.Locator("code.access-key").InnerTextAsync();
        var secretKey = await fresh.Locator("code.secret-key").InnerTextAsync();
        var snippet = await fresh.Locator("pre.conf-snippet").InnerTextAsync();
        Assert.Contains($"\"access_key\": \"{accessKey}\"", snippet, StringComparison.Ordinal);
        Assert.Contains($"\"secret_key\": \"{secretKey}\"", snippet, StringComparison.Ordinal);
        Assert.Contains($"api_server: {web.Server.ApiUrl.ToString().TrimEnd('/')}", snippet, StringComparison.Ordinal);
        Assert.Contains($"web_server: {web.Server.WebUrl.ToString().TrimEnd('/')}", snippet, StringComparison.Ordinal);
        Assert.Contains($"files_server: {web.Server.FilesUrl.ToString().TrimEnd('/')}", snippet, StringComparison.Ordinal);
        var row = tab.Page.Locator($"tr[data-key='{accessKey}']");
        await Assertions.Expect(row).ToContainTextAsync(label);
        await Assertions.Expect(row).ToContainTextAsync("never");
        await tab.ScreenshotAsync("settings");

        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, await LoginAsync(http, accessKey, secretKey));

        await row.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Revoke now" }).ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        await Assertions.Expect(fresh).ToHaveCountAsync(0);
        var listed = await web.ApiAsync("auth.get_credentials", new JsonObject());
        Assert.DoesNotContain(listed["credentials"]!.AsArray(), c => c!["access_key"]!.GetValue<string>() == accessKey);
        Assert.Equal(HttpStatusCode.Unauthorized, await LoginAsync(http, accessKey, secretKey));
    }

    private async Task<HttpStatusCode> LoginAsync(HttpClient http, string accessKey, string secretKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(web.Server.ApiUrl, "auth.login"))
        {
            Content = new StringContent("{}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{accessKey}:{secretKey}")));
        using var response = await http.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.OK)
            Assert.False(string.IsNullOrEmpty(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!["token"]!.GetValue<string>()));
        return response.StatusCode;
    }
}
