using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>The comparison of experiments: /compare?ids=a,b,...</summary>
[Collection("web")]
public sealed class CompareTests(WebFixture web)
{
    private string BothRuns => $"compare?ids={web.Runs.Baseline},{web.Runs.Tuned}";

    [Fact]
    public async Task Scalars_of_the_experiments_are_overlaid_one_line_per_experiment()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync(BothRuns);
        var page = tab.Page;
        await Assertions.Expect(page.Locator(".compared tbody tr")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator($".compared tr[data-task='{web.Runs.Baseline}'] a")).ToHaveTextAsync("resnet baseline");
        await Assertions.Expect(page.Locator($".compared tr[data-task='{web.Runs.Tuned}']")).ToContainTextAsync("completed");

        await Assertions.Expect(page.Locator(".chart")).ToHaveCountAsync(3);
        var trainLoss = page.Locator(".chart[data-chart='loss / train'] .plot");
        await Assertions.Expect(trainLoss.Locator("canvas")).ToBeVisibleAsync();
        Assert.Equal(100, await trainLoss.EvaluateAsync<int>("el => slipway.pointCount(el)")); // two experiments, 50 points each
        Assert.Equal(2, await trainLoss.EvaluateAsync<int>("el => el._chart.series.length - 1"));
        var legend = trainLoss.Locator(".u-legend");
        await Assertions.Expect(legend).ToContainTextAsync("resnet baseline");
        await Assertions.Expect(legend).ToContainTextAsync("resnet tuned lr");
        await Assertions.Expect(page.Locator("tr[data-single='test accuracy']")).ToHaveClassAsync("diff-row");
        await tab.ScreenshotAsync("compare-scalars");

        // The same zoom round trip as on one experiment's charts.
        var box = (await trainLoss.Locator(".u-over").BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + box.Width * 0.2f, box.Y + box.Height / 2);
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync(box.X + box.Width * 0.5f, box.Y + box.Height / 2, new() { Steps = 5 });
        await page.Mouse.UpAsync();
        await Assertions.Expect(trainLoss).ToHaveAttributeAsync("data-zoomed", new System.Text.RegularExpressions.Regex(@"^\d+-\d+$"));
        var zoomed = await trainLoss.EvaluateAsync<int>("el => slipway.pointCount(el)");
        Assert.InRange(zoomed, 2 * 10, 2 * 20);
    }

    [Fact]
    public async Task Hyperparameter_differences_are_highlighted_and_can_be_shown_alone()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync(BothRuns);
        var page = tab.Page;
        await page.GetByRole(AriaRole.Tab, new() { Name = "Hyperparameters & configuration" }).ClickAsync();
        var lr = page.Locator("tr[data-param='General/lr']");
        await Assertions.Expect(lr).ToHaveClassAsync("diff-row");
        await Assertions.Expect(lr.Locator("td").Nth(0)).ToHaveTextAsync("0.01");
        await Assertions.Expect(lr.Locator("td").Nth(1)).ToHaveTextAsync("0.05");
        var epochs = page.Locator("tr[data-param='General/epochs']");
        await Assertions.Expect(epochs).Not.ToHaveClassAsync("diff-row");
        await Assertions.Expect(epochs.Locator("td").Nth(1)).ToHaveTextAsync("50");
        await Assertions.Expect(page.Locator("tr[data-param='Configuration/model']")).Not.ToHaveClassAsync("diff-row");
        await Assertions.Expect(page.Locator("tr[data-param='Configuration/model'] td").First).ToContainTextAsync("dropout");
        await tab.ScreenshotAsync("compare-params");

        await page.GetByLabel("Show only differences").CheckAsync();
        await Assertions.Expect(epochs).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("tr[data-param='General/batch_size']")).ToHaveCountAsync(0);
        await Assertions.Expect(lr).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("table.params tbody tr")).ToHaveCountAsync(1);
        await tab.ScreenshotAsync("compare-params-differences");
    }

    [Fact]
    public async Task Parallel_coordinates_plot_the_hyperparameters_against_a_chosen_metric()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync(BothRuns + "&tab=parallel");
        var page = tab.Page;
        var plot = page.Locator(".parcoords.js-plotly-plot");
        await Assertions.Expect(plot).ToBeVisibleAsync(new() { Timeout = 20_000 }); // the first figure loads Plotly
        await Assertions.Expect(plot.Locator("canvas.gl-canvas").First).ToBeAttachedAsync();
        await Assertions.Expect(plot).ToContainTextAsync("General/lr");
        await page.GetByLabel("Metric", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = "accuracy / validation" });
        await page.GetByLabel("Metric value").SelectOptionAsync("max_value");
        await Assertions.Expect(plot).ToContainTextAsync("accuracy / validation (max)");
        await tab.ScreenshotAsync("compare-parallel-coordinates");
    }

    [Fact]
    public async Task Console_output_is_shown_side_by_side()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync(BothRuns);
        var page = tab.Page;
        await page.GetByRole(AriaRole.Tab, new() { Name = "Console" }).ClickAsync();
        var panels = page.Locator(".side-by-side .console-panel");
        await Assertions.Expect(panels).ToHaveCountAsync(2);
        var baseline = page.Locator($".console-panel[data-task='{web.Runs.Baseline}']");
        await Assertions.Expect(baseline.Locator("h3")).ToHaveTextAsync("resnet baseline");
        await Assertions.Expect(baseline.Locator("pre.console")).ToContainTextAsync("epoch 0: loss=2.0500");
        await Assertions.Expect(baseline.Locator("pre.console")).ToContainTextAsync("training finished");
        await Assertions.Expect(page.Locator($".console-panel[data-task='{web.Runs.Tuned}'] pre.console")).ToContainTextAsync("training finished");
        var first = await panels.Nth(0).BoundingBoxAsync();
        var second = await panels.Nth(1).BoundingBoxAsync();
        Assert.Equal(first!.Y, second!.Y, 1.0); // next to each other, not one under the other
        await tab.ScreenshotAsync("compare-console");
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_message()
    {
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        await tab.GotoAsync("compare");
        await Assertions.Expect(page.Locator(".error")).ToContainTextAsync("none was given");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Choose experiments to compare" })).ToBeVisibleAsync();

        await tab.GotoAsync($"compare?ids={web.Runs.Baseline}");
        await Assertions.Expect(page.Locator(".error")).ToContainTextAsync("at least two experiments");
        await Assertions.Expect(page.Locator(".chart")).ToHaveCountAsync(0);

        await tab.GotoAsync($"compare?ids={web.Runs.Baseline},no-such-task");
        await Assertions.Expect(page.Locator(".error")).ToContainTextAsync("Unknown experiment id: no-such-task");
        await Assertions.Expect(page.Locator(".error")).ToContainTextAsync("at least two experiments that exist");
        await tab.ScreenshotAsync("compare-unknown-id");

        await tab.GotoAsync($"compare?ids={web.Runs.Baseline},{web.Runs.Tuned},missing-one");
        await Assertions.Expect(page.Locator(".error")).ToContainTextAsync("Unknown experiment id: missing-one");
        await Assertions.Expect(page.Locator(".compared tbody tr")).ToHaveCountAsync(2);

        var many = string.Join(",", Enumerable.Range(0, 101).Select(i => $"t{i}"));
        await tab.GotoAsync($"compare?ids={many}");
        await Assertions.Expect(page.Locator(".error")).ToContainTextAsync("At most 100 experiments can be compared at once; 101 were given.");
    }
}
