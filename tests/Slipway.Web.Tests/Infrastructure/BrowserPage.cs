using Microsoft.Playwright;

namespace Slipway.Web.Tests.Infrastructure;

/// <summary>One signed-in browser tab that records console errors and failed page scripts, and saves screenshots.</summary>
public sealed class BrowserPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly List<string> _errors = [];
    private Func<string, bool> _expected = _ => false;

    public BrowserPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && !_expected(message.Text))
                lock (_errors) _errors.Add($"console: {message.Text}");
        };
        page.PageError += (_, error) => { lock (_errors) _errors.Add($"page error: {error}"); };
    }

    public IPage Page { get; }

    /// <summary>Opens a page and waits until its components are interactive (the circuit is up).</summary>
    public async Task GotoAsync(string path)
    {
        await Page.GotoAsync(path);
        if (!path.StartsWith("login", StringComparison.Ordinal))
            await Page.WaitForSelectorAsync("[data-interactive]", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
    }

    public async Task ScreenshotAsync(string name) =>
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(WebFixture.ScreenshotDir, name + ".png"), FullPage = true });

    /// <summary>Console errors a test provokes on purpose (a refused request the browser reports whenever it gets to it).</summary>
    public void ExpectConsoleErrors(Func<string, bool> expected) => _expected = expected;

    public void AssertNoConsoleErrors()
    {
        lock (_errors)
            Assert.True(_errors.Count == 0, "browser errors:\n" + string.Join("\n", _errors));
    }

    public async ValueTask DisposeAsync()
    {
        AssertNoConsoleErrors();
        await _context.CloseAsync();
    }
}
