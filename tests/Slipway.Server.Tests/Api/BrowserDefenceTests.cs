using System.Net;
using System.Net.WebSockets;
using System.Text.RegularExpressions;
using Slipway.Server.Auth;
using Slipway.Server.Files;
using Slipway.Server.Tests.Infrastructure;
using Slipway.Server.Web;

namespace Slipway.Server.Tests.Api;

/// <summary>What a hostile page on the same site (an uploaded file, another port) or another site could try, over real HTTP.</summary>
public sealed partial class BrowserDefenceTests() : ServerTests("sqlite")
{
    [Fact]
    public async Task An_uploaded_html_page_is_never_rendered_as_a_page_of_the_site()
    {
        var url = await UploadAsync("p/t/artifacts/page/attack.html", "<script>fetch('/')</script>"u8.ToArray());
        var image = await UploadAsync("p/t/images/x.png", [0x89, 0x50, 0x4e, 0x47]);
        using var browser = new HttpClient();
        browser.DefaultRequestHeaders.Add("Cookie", $"{Authenticator.CookieName}={Api.Token}");

        using var page = await browser.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("attachment", page.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.StartsWith("sandbox", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        using var png = await browser.GetAsync(image);
        Assert.Null(png.Content.Headers.ContentDisposition);
        Assert.Equal(FileServer.ContentSecurityPolicy, png.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Theory]
    [InlineData("text/html", false)]
    [InlineData("image/svg+xml", false)]
    [InlineData("application/xml", false)]
    [InlineData("application/javascript", false)]
    [InlineData("application/pdf", false)]
    [InlineData("image/png", true)]
    [InlineData("video/mp4", true)]
    [InlineData("text/plain", true)]
    public void Only_passive_types_are_shown_inline(string type, bool inline) => Assert.Equal(inline, FileServer.ShownInline(type));

    [Fact]
    public async Task The_circuit_refuses_a_websocket_from_another_origin()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "http://evil.example");
        socket.Options.SetRequestHeader("Cookie", $"{Authenticator.CookieName}={Api.Token}");
        var web = new UriBuilder(Server.Server.WebUrl) { Scheme = "ws", Path = "/_blazor" }.Uri;
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(web, CancellationToken.None));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);

        using var negotiate = new HttpClient { BaseAddress = Server.Server.WebUrl };
        using var request = new HttpRequestMessage(HttpMethod.Post, "_blazor/negotiate?negotiateVersion=1");
        request.Headers.Add("Origin", "http://localhost:1");
        Assert.Equal(HttpStatusCode.Forbidden, (await negotiate.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Signing_in_needs_the_forms_antiforgery_token_and_returns_only_to_local_paths()
    {
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = Server.Server.WebUrl };
        var form = await browser.GetStringAsync("login?return=/%09/evil.example");
        var token = AntiforgeryField().Match(form).Groups[1].Value;
        Assert.NotEmpty(token);

        // Another site posting the form (no token: it cannot read the page) signs nobody in.
        using var forged = await browser.PostAsync("auth/login", Form(("access_key", Server.Admin.AccessKey), ("secret_key", Server.Admin.SecretKey), ("return", "/")));
        Assert.Contains("error=", forged.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(cookies.GetCookies(Server.Server.WebUrl), c => c.Name == Authenticator.CookieName);

        using var signedIn = await browser.PostAsync("auth/login", Form(("access_key", Server.Admin.AccessKey), ("secret_key", Server.Admin.SecretKey),
            ("return", "/\t/evil.example"), ("__RequestVerificationToken", WebUtility.HtmlDecode(token))));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/", signedIn.Headers.Location!.ToString());
        Assert.Contains(cookies.GetCookies(Server.Server.WebUrl), c => c.Name == Authenticator.CookieName);
    }

    [Theory]
    [InlineData("/experiments?x=1", "/experiments?x=1")]
    [InlineData("/", "/")]
    [InlineData("//evil.example", "/")]
    [InlineData("/\\evil.example", "/")]
    [InlineData("/\t/evil.example", "/")]
    [InlineData("/\n/evil.example", "/")]
    [InlineData("https://evil.example", "/")]
    [InlineData("javascript:alert(1)", "/")]
    [InlineData("", "/")]
    public void Return_paths_stay_on_the_site(string given, string expected) => Assert.Equal(expected, WebUi.SafeReturn(given));

    [Fact]
    public void Only_http_links_from_reported_data_become_links()
    {
        Assert.False(Format.IsHttp("javascript:alert(1)"));
        Assert.False(Format.IsHttp("data:text/html,<script>"));
        Assert.True(Format.IsHttp("HTTPS://files/x.png"));
    }

    private static FormUrlEncodedContent Form(params (string, string)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2)));

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
