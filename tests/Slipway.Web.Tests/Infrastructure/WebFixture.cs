using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Client;
using Slipway.Server;

namespace Slipway.Web.Tests.Infrastructure;

/// <summary>
/// The shared test server (SQLite, local files; no watchdog, so seeded running tasks stay running), seeded through the API by real runs made with
/// Slipway.Client, and the machine's Chromium driven by Playwright. Shared by the browser tests of one collection.
/// </summary>
public sealed class WebFixture : IAsyncLifetime
{
    private readonly TestServer _testServer = new(new TestServerSettings { Configure = options => options.WatchdogTimeout = TimeSpan.Zero });
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public string DataDir => _testServer.DataDir;

    /// <summary>Where each test's screenshots go, for a person to look at.</summary>
    public static string ScreenshotDir { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public SlipwayServer Server => _testServer.Server;
    public SlipwayClient Client { get; private set; } = null!;
    public SeededRuns Runs { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _testServer.InitializeAsync();
        Client = new SlipwayClient(new ClientOptions
        {
            ApiServer = Server.ApiUrl,
            WebServer = Server.WebUrl,
            FilesServer = Server.FilesUrl,
            AccessKey = Server.NewAdmin!.AccessKey,
            SecretKey = Server.NewAdmin!.SecretKey,
        });
        Runs = await SeededRuns.CreateAsync(Client);
        Directory.CreateDirectory(ScreenshotDir);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath(),
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>The machine's Chromium: SLIPWAY_TEST_CHROMIUM, else Debian's package.</summary>
    private static string ChromiumPath()
    {
        var candidates = new[] { Environment.GetEnvironmentVariable("SLIPWAY_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" };
        return candidates.FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p))
               ?? throw new InvalidOperationException("No Chromium found: apt-get install chromium (or set SLIPWAY_TEST_CHROMIUM)");
    }

    /// <summary>A fresh browser context signed in through the sign-in form as the admin.</summary>
    public async Task<BrowserPage> SignedInPageAsync()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("login");
        await page.Page.FillAsync("input[name=access_key]", Server.NewAdmin!.AccessKey);
        await page.Page.FillAsync("input[name=secret_key]", Server.NewAdmin!.SecretKey);
        await page.Page.ClickAsync("button[type=submit]");
        await page.Page.WaitForSelectorAsync("nav.sidebar");
        return page;
    }

    public async Task<BrowserPage> NewPageAsync()
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Server.WebUrl.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
        });
        context.SetDefaultTimeout(20_000);
        return new BrowserPage(context, await context.NewPageAsync());
    }

    /// <summary>Calls the API as the admin and returns the data (for checks that go around the UI).</summary>
    public async Task<JsonObject> ApiAsync(string endpoint, JsonObject body)
    {
        var data = await Client.CallAsync(endpoint, body);
        return data as JsonObject ?? [];
    }

    /// <summary>A new draft task (in the seeded project unless another is named); the caller deletes it.</summary>
    public async Task<string> NewTaskAsync(string name, string type = "training", string? project = null) =>
        (await ApiAsync("tasks.create", new JsonObject { ["name"] = name, ["type"] = type, ["project"] = project ?? Runs.ProjectId }))["id"]!.GetValue<string>();

    public async Task DisposeAsync()
    {
        if (_browser is not null)
            await _browser.DisposeAsync();
        _playwright?.Dispose();
        Client?.Dispose();
        await _testServer.DisposeAsync();
    }
}

[CollectionDefinition("web")]
public sealed class WebCollection : ICollectionFixture<WebFixture>;
