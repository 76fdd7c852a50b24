using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>The experiment page: every section of a finished run shows its real data, and a running task is followed live.</summary>
[Collection("web")]
public sealed partial class ExperimentPageTests(WebFixture web)
{
    [Fact]
    public async Task Every_tab_of_the_baseline_shows_its_data()
    {
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        await tab.GotoAsync("experiments/" + web.Runs.Baseline);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("resnet baseline");
        await Assertions.Expect(page.Locator(".experiment-head .status")).ToHaveTextAsync("completed");
        await Assertions.Expect(page.Locator(".breadcrumb a")).ToHaveTextAsync(SeededRuns.Project);
        await Assertions.Expect(page.Locator(".tags-row .tag")).ToContainTextAsync("resnet");

        // execution: code state and the diff, coloured line by line
        await Assertions.Expect(page.Locator("dl.execution-fields")).ToContainTextAsync("https://example.invalid/team/vision.git");
        await Assertions.Expect(page.Locator("dl.execution-fields")).ToContainTextAsync("4f2c9e1d");
        await Assertions.Expect(page.Locator("dl.execution-fields")).ToContainTextAsync("train.py");
        await Assertions.Expect(page.Locator("pre.diff span.add")).ToHaveTextAsync("+LR = 0.01\n");
        await Assertions.Expect(page.Locator("pre.diff span.del")).ToHaveTextAsync("-LR = 0.1\n");
        await Assertions.Expect(page.Locator("pre.diff span.hunk")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("pre.diff span.file")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("pre.requirements")).ToContainTextAsync("torch==2.4.0");
        Assert.Equal("rgb(126, 226, 160)", await page.Locator("pre.diff span.add").EvaluateAsync<string>("e => getComputedStyle(e).color"));
        await tab.ScreenshotAsync("experiment-execution");

        // hyperparameters and configuration
        await OpenTabAsync(page, "Hyperparameters", "hyperparameters");
        await Assertions.Expect(page.Locator("tr[data-param='General/lr'] td.value")).ToHaveTextAsync("0.01");
        await Assertions.Expect(page.Locator("tr[data-param='General/epochs'] td.value")).ToHaveTextAsync("50");
        await Assertions.Expect(page.Locator("tr[data-param='General/lr'] input")).ToHaveCountAsync(0); // a finished run is read-only
        await Assertions.Expect(page.Locator("section[data-config='model'] pre")).ToContainTextAsync("\"dropout\": 0.1");
        await tab.ScreenshotAsync("experiment-hyperparameters");

        // artifacts: rows with previews, and the download link returns the file with the page's cookie (and only with it)
        await OpenTabAsync(page, "Artifacts", "artifacts");
        var predictions = page.Locator("tr[data-artifact='predictions']");
        await Assertions.Expect(predictions).ToContainTextAsync("predictions.csv");
        await Assertions.Expect(page.Locator("tr[data-preview='summary']")).ToContainTextAsync("best_accuracy");
        var href = await predictions.Locator("a.download").GetAttributeAsync("href");
        Assert.NotNull(href);
        var response = await page.APIRequest.GetAsync(href);
        Assert.Equal(200, response.Status);
        Assert.Equal("id,label\n1,cat\n2,dog\n", await response.TextAsync());
        await using (var stranger = await web.NewPageAsync())
            Assert.Equal(401, (await stranger.Page.APIRequest.GetAsync(href)).Status);
        await tab.ScreenshotAsync("experiment-artifacts");

        // models
        await OpenTabAsync(page, "Models", "models");
        var model = page.Locator($"section[data-models='output'] tr[data-model='{web.Runs.ModelId}']");
        await Assertions.Expect(model.Locator($"a[href='models/{web.Runs.ModelId}']")).ToHaveTextAsync("resnet50");
        await Assertions.Expect(model).ToContainTextAsync("ONNX");
        await Assertions.Expect(page.Locator("section[data-models='input']")).ToContainTextAsync("None.");
        await tab.ScreenshotAsync("experiment-models");

        // info
        await OpenTabAsync(page, "Info", "info");
        var info = page.Locator("dl.info");
        await Assertions.Expect(info).ToContainTextAsync(web.Runs.Baseline);
        await Assertions.Expect(info).ToContainTextAsync("training");
        await Assertions.Expect(info.Locator("dt:text-is('Started') + dd")).ToHaveTextAsync(DateLike());
        await Assertions.Expect(info.Locator("dt:text-is('Completed') + dd")).ToHaveTextAsync(DateLike());
        await tab.ScreenshotAsync("experiment-info");

        // console: the log, search highlights and filters, download as text
        await OpenTabAsync(page, "Console", "console");
        var console = page.Locator("pre.console");
        await Assertions.Expect(console).ToContainTextAsync("training finished");
        await page.FillAsync("input[aria-label='Search the log']", "epoch");
        await Assertions.Expect(console.Locator("mark")).ToHaveCountAsync(5);
        await page.Locator("label:has-text('only matching lines') input").CheckAsync();
        await Assertions.Expect(console.Locator("span.line")).ToHaveCountAsync(5);
        await Assertions.Expect(console).Not.ToContainTextAsync("training finished");
        await tab.ScreenshotAsync("experiment-console");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync(".console-tools button:text-is('Download')"));
        Assert.Equal("resnet_baseline.log", download.SuggestedFilename);
        var text = await File.ReadAllTextAsync((await download.PathAsync())!);
        Assert.Contains("epoch 0: loss=", text, StringComparison.Ordinal);
        Assert.Contains("training finished", text, StringComparison.Ordinal);

        // scalars are another component's; the tab hosts it
        await OpenTabAsync(page, "Scalars", "scalars");
        await tab.ScreenshotAsync("experiment-scalars");

        // plots: the Plotly figure and the table
        await OpenTabAsync(page, "Plots", "plots");
        await Assertions.Expect(page.Locator("figure[data-plot='roc/test'] .js-plotly-plot")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("figure[data-plot='confusion/test'] .js-plotly-plot")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("figure[data-plot='roc/test']")).ToContainTextAsync("ROC curve");
        await tab.ScreenshotAsync("experiment-plots");

        // debug images: the newest iteration first, the slider walks back
        await OpenTabAsync(page, "Debug images", "debug-images");
        var figure = page.Locator("figure[data-image='samples/input']");
        await Assertions.Expect(figure.Locator(".iteration")).ToHaveTextAsync("iteration 20");
        var newest = await figure.Locator("img").GetAttributeAsync("src");
        await Assertions.Expect(figure.Locator("img")).ToHaveJSPropertyAsync("naturalWidth", 16);
        await figure.Locator("input[type=range]").FillAsync("0");
        await Assertions.Expect(figure.Locator(".iteration")).ToHaveTextAsync("iteration 0");
        Assert.NotEqual(newest, await figure.Locator("img").GetAttributeAsync("src"));
        await Assertions.Expect(figure.Locator("img")).ToHaveJSPropertyAsync("naturalWidth", 16);
        await tab.ScreenshotAsync("experiment-debug-images");
    }

    [Fact]
    public async Task The_project_route_and_a_tab_in_the_address_open_the_same_page()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments/{web.Runs.Tuned}");
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync("resnet tuned lr");
        await Assertions.Expect(tab.Page.Locator("nav.tabs a.active")).ToHaveTextAsync("Execution");
        await tab.GotoAsync($"experiments/{web.Runs.Tuned}/hyperparameters");
        await Assertions.Expect(tab.Page.Locator("nav.tabs a.active")).ToHaveTextAsync("Hyperparameters");
        await Assertions.Expect(tab.Page.Locator("tr[data-param='General/lr'] td.value")).ToHaveTextAsync("0.05");

        // The results page the Python SDK prints in every run's console ("ClearML results page: …/output/log").
        await tab.GotoAsync($"projects/*/experiments/{web.Runs.Tuned}/output/log");
        await Assertions.Expect(tab.Page.Locator("nav.tabs a.active")).ToHaveTextAsync("Console");
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments/{web.Runs.Tuned}/output/metrics/scalar");
        await Assertions.Expect(tab.Page.Locator("nav.tabs a.active")).ToHaveTextAsync("Scalars");
    }

    [Fact]
    public async Task A_running_task_is_followed_live_status_and_console()
    {
        var id = await web.NewTaskAsync("live console");
        try
        {
            await web.ApiAsync("tasks.started", new JsonObject { ["task"] = id });
            await web.ApiAsync("events.add", new JsonObject { ["task"] = id, ["type"] = "log", ["msg"] = "step 1 of 3", ["level"] = "info" });
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync($"experiments/{id}/console");
            var console = tab.Page.Locator("pre.console");
            await Assertions.Expect(console).ToContainTextAsync("step 1 of 3");
            await Assertions.Expect(tab.Page.Locator(".experiment-head .status")).ToHaveTextAsync("in progress");
            await Assertions.Expect(tab.Page.Locator(".console-tools .live")).ToBeVisibleAsync();

            await web.ApiAsync("events.add", new JsonObject { ["task"] = id, ["type"] = "log", ["msg"] = "step 2 of 3\nstep 3 of 3", ["level"] = "info" });
            await Assertions.Expect(console).ToContainTextAsync("step 3 of 3"); // no reload: the tab polls while the task runs
            await Assertions.Expect(console.Locator("span.line")).ToHaveCountAsync(3);
            await tab.ScreenshotAsync("experiment-console-live");

            await tab.Page.ClickAsync("nav.tabs a:text-is('Plots')");
            await Assertions.Expect(tab.Page.Locator(".tab-body .empty")).ToContainTextAsync("No plots");
            await web.ApiAsync("events.add", new JsonObject
            {
                ["task"] = id, ["type"] = "plot", ["metric"] = "pr", ["variant"] = "test", ["iter"] = 1,
                ["plot_str"] = "{\"data\": [{\"type\": \"bar\", \"x\": [\"a\", \"b\"], \"y\": [1, 2]}], \"layout\": {}}",
            });
            await Assertions.Expect(tab.Page.Locator("figure[data-plot='pr/test'] .js-plotly-plot")).ToHaveCountAsync(1, new() { Timeout = 15_000 });
            await tab.Page.ClickAsync("nav.tabs a:text-is('Console')");
            await Assertions.Expect(console).ToContainTextAsync("step 3 of 3");

            await web.ApiAsync("tasks.completed", new JsonObject { ["task"] = id });
            await Assertions.Expect(tab.Page.Locator(".experiment-head .status")).ToHaveTextAsync("completed");
            await Assertions.Expect(tab.Page.Locator(".console-tools .live")).ToHaveCountAsync(0);
            await Assertions.Expect(tab.Page.Locator(".experiment-head button:text-is('Abort')")).ToHaveCountAsync(0);
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task Tags_and_comment_are_edited_in_the_header()
    {
        var id = (await web.ApiAsync("tasks.clone", new JsonObject { ["task"] = web.Runs.Tuned, ["new_task_name"] = "tag me" }))["id"]!.GetValue<string>();
        try
        {
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("experiments/" + id);
            await tab.Page.FillAsync("input[aria-label='New tag']", "keeper");
            await tab.Page.PressAsync("input[aria-label='New tag']", "Enter");
            await Assertions.Expect(tab.Page.Locator(".tags-row .tag", new() { HasText = "keeper" })).ToHaveCountAsync(1);
            await tab.Page.ClickAsync("button[aria-label='Remove tag resnet']");
            await Assertions.Expect(tab.Page.Locator(".tags-row .tag", new() { HasText = "resnet" })).ToHaveCountAsync(0);
            await tab.Page.ClickAsync(".comment-row button:text-is('Edit')");
            await tab.Page.FillAsync("textarea[aria-label='Comment']", "try a warmup next");
            await tab.Page.ClickAsync("button:text-is('Save comment')");
            await Assertions.Expect(tab.Page.Locator(".comment-row .comment")).ToHaveTextAsync("try a warmup next");

            var task = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;
            Assert.Equal(["keeper"], task["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
            Assert.Equal("try a warmup next", task["comment"]!.GetValue<string>());
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task A_narrow_screen_keeps_the_page_usable()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.Page.SetViewportSizeAsync(390, 844);
        await tab.GotoAsync("experiments/" + web.Runs.Baseline);
        await Assertions.Expect(tab.Page.Locator("pre.diff span.add")).ToBeVisibleAsync();
        var overflow = await tab.Page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth + 1");
        Assert.False(overflow, "the page scrolls sideways on a phone-sized screen");
        await tab.ScreenshotAsync("experiment-narrow");
        await tab.Page.ClickAsync("nav.tabs a:text-is('Hyperparameters')");
        await Assertions.Expect(tab.Page.Locator("tr[data-param='General/lr']")).ToBeVisibleAsync();
        await tab.ScreenshotAsync("experiment-narrow-hyperparameters");
    }

    private static async Task OpenTabAsync(IPage page, string label, string key)
    {
        await page.ClickAsync($"nav.tabs a:text-is('{label}')");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"/{Regex.Escape(key)}$"));
        await Assertions.Expect(page.Locator($".tab-body[data-tab='{key}']")).ToHaveCountAsync(1);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")]
    private static partial Regex DateLike();
}
