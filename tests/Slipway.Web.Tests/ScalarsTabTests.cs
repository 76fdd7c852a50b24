using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>The scalars of one experiment (the experiment page's tab, hosted full width at /scalars/{id}).</summary>
[Collection("web")]
public sealed class ScalarsTabTests(WebFixture web)
{
    private static ILocator Plot(IPage page, string chart) => page.Locator($".chart[data-chart='{chart}'] .plot");

    private static Task<int> PointsAsync(ILocator plot, bool inView = false) =>
        plot.EvaluateAsync<int>("(el, inView) => slipway.pointCount(el, inView)", inView);

    /// <summary>Drags across the plot area between two fractions of its width, as a user selects a range to zoom into.</summary>
    private static async Task DragAsync(IPage page, ILocator plot, float from, float to)
    {
        var box = (await plot.Locator(".u-over").BoundingBoxAsync())!;
        var y = box.Y + box.Height / 2;
        await page.Mouse.MoveAsync(box.X + box.Width * from, y);
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync(box.X + box.Width * (from + to) / 2, y, new() { Steps = 4 });
        await page.Mouse.MoveAsync(box.X + box.Width * to, y, new() { Steps = 4 });
        await page.Mouse.UpAsync();
    }

    private static async Task<(long From, long To)> ZoomedRangeAsync(ILocator plot)
    {
        await Assertions.Expect(plot).ToHaveAttributeAsync("data-zoomed", new System.Text.RegularExpressions.Regex(@"^\d+-\d+$"));
        var parts = (await plot.GetAttributeAsync("data-zoomed"))!.Split('-');
        return (long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Scalars_show_a_chart_per_metric_with_every_variant_and_keep_them_through_settings_and_zoom()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync($"scalars/{web.Runs.Baseline}");
        var page = tab.Page;
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("resnet baseline");
        await Assertions.Expect(page.Locator(".chart")).ToHaveCountAsync(2);
        var loss = Plot(page, "loss");
        var accuracy = Plot(page, "accuracy");
        await Assertions.Expect(loss.Locator("canvas")).ToBeVisibleAsync();
        Assert.Equal(100, await PointsAsync(loss)); // train and validation, 50 iterations each
        Assert.Equal(50, await PointsAsync(accuracy));
        await Assertions.Expect(loss.Locator(".u-legend")).ToContainTextAsync("train");
        await Assertions.Expect(loss.Locator(".u-legend")).ToContainTextAsync("validation");
        await Assertions.Expect(page.Locator("tr[data-single='test accuracy']")).ToContainTextAsync("0.8");
        await tab.ScreenshotAsync("scalars-baseline");

        // Hover values: the legend shows the series' values where the cursor is.
        var over = (await loss.Locator(".u-over").BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(over.X + over.Width * 0.1f, over.Y + over.Height / 2);
        await Assertions.Expect(loss.Locator(".u-legend .u-series").First.Locator(".u-value")).Not.ToHaveTextAsync("--");

        await page.GetByLabel("Log scale").CheckAsync();
        await page.WaitForFunctionAsync("el => el._chart && el._chart.scales.y.distr === 3", await loss.ElementHandleAsync());
        Assert.Equal(100, await PointsAsync(loss));
        await page.GetByLabel("Smoothing").FillAsync("0.9");
        await Assertions.Expect(page.Locator(".chart-controls output")).ToHaveTextAsync("0.90");
        Assert.Equal(100, await PointsAsync(loss));
        await page.GetByLabel("X axis").SelectOptionAsync("relative");
        await Assertions.Expect(loss.Locator(".u-legend")).ToContainTextAsync("run time");
        Assert.Equal(100, await PointsAsync(loss));
        await tab.ScreenshotAsync("scalars-log-smoothed-relative-time");
        await page.GetByLabel("X axis").SelectOptionAsync("iter");
        await page.GetByLabel("Log scale").UncheckAsync();
        await page.WaitForFunctionAsync("el => el._chart && el._chart.scales.y.distr === 1 && el._spec.xMode === 'iter'", await loss.ElementHandleAsync());
        await Assertions.Expect(loss.Locator(".u-legend")).ToContainTextAsync("iteration");

        // Zoom: the drag asks the server for the range's points, a double click brings the whole series back.
        await DragAsync(page, loss, 0.3f, 0.6f);
        var (from, to) = await ZoomedRangeAsync(loss);
        Assert.InRange(from, 10, 20);
        Assert.InRange(to, 25, 35);
        Assert.Equal(2 * (to - from + 1), await PointsAsync(loss));
        var range = await loss.EvaluateAsync<double[]>("el => slipway.xRange(el)");
        Assert.True(range[0] > 10 && range[1] < 35, $"x range {range[0]}..{range[1]}");
        await tab.ScreenshotAsync("scalars-zoomed");
        await loss.Locator(".u-over").DblClickAsync();
        await Assertions.Expect(loss).Not.ToHaveAttributeAsync("data-zoomed", new System.Text.RegularExpressions.Regex("."));
        Assert.Equal(100, await PointsAsync(loss));

        await page.GetByLabel("Filter metrics").FillAsync("acc");
        await Assertions.Expect(page.Locator(".chart")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator(".chart h3")).ToHaveTextAsync("accuracy");
    }

    [Fact]
    public async Task A_long_series_loads_downsampled_and_zooming_in_shows_its_raw_points()
    {
        const int points = 200_000;
        var (project, task) = await NewTaskAsync("long series");
        try
        {
            const long start = 1_767_225_600_000;
            for (var batch = 0; batch < points; batch += 10_000)
            {
                var events = new JsonArray(Enumerable.Range(batch, 10_000).Select(i => (JsonNode)new JsonObject
                {
                    ["type"] = "training_stats_scalar", ["task"] = task, ["metric"] = "loss", ["variant"] = "train",
                    ["iter"] = i, ["value"] = 1 + Math.Sin(i / 700.0) + i * 1e-5 + (i * 7919 % 13 - 6) / 120.0, ["timestamp"] = start + i * 10L,
                }).ToArray());
                await web.ApiAsync("events.add_batch", new JsonObject { ["requests"] = events });
            }

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync($"scalars/{task}");
            var page = tab.Page;
            var loss = Plot(page, "loss");
            await Assertions.Expect(loss.Locator("canvas")).ToBeVisibleAsync();
            var first = await PointsAsync(loss);
            Assert.InRange(first, 1000, 2000); // a pyramid level, not 200,000 points
            await tab.ScreenshotAsync("scalars-long-series");

            // Two drags, as a user narrows in: the second range is short enough for every raw point.
            await DragAsync(page, loss, 0.40f, 0.50f);
            var (from, to) = await ZoomedRangeAsync(loss);
            Assert.InRange(to - from, 10_000, 30_000);
            await DragAsync(page, loss, 0.45f, 0.52f);
            await Assertions.Expect(loss).Not.ToHaveAttributeAsync("data-zoomed", $"{from}-{to}");
            (from, to) = await ZoomedRangeAsync(loss);
            Assert.InRange(to - from, 100, 2000);
            Assert.Equal(to - from + 1, await PointsAsync(loss));
            var range = await loss.EvaluateAsync<double[]>("el => slipway.xRange(el)");
            Assert.Equal((long)Math.Floor(range[1]) - (long)Math.Ceiling(range[0]) + 1, await PointsAsync(loss, inView: true));
            await tab.ScreenshotAsync("scalars-long-series-raw");

            // On a time axis the drag's time range is mapped back to the iterations reported in it (here 10 ms apart).
            await loss.Locator(".u-over").DblClickAsync();
            await Assertions.Expect(loss).Not.ToHaveAttributeAsync("data-zoomed", new System.Text.RegularExpressions.Regex("."));
            await page.GetByLabel("X axis").SelectOptionAsync("relative");
            await page.WaitForFunctionAsync("el => el._chart && el._spec.xMode === 'relative'", await loss.ElementHandleAsync());
            await Assertions.Expect(loss.Locator(".u-legend")).ToContainTextAsync("run time");
            await DragAsync(page, loss, 0.40f, 0.50f);
            (from, to) = await ZoomedRangeAsync(loss);
            Assert.InRange(from, 76_000, 82_000);
            Assert.InRange(to, 98_000, 104_000);
            Assert.InRange(await PointsAsync(loss), 500, 2000); // the finest level that fits: 64-iteration buckets here
        }
        finally
        {
            await DeleteAsync(project, task);
        }
    }

    [Fact]
    public async Task A_running_experiment_updates_live_and_lists_monitoring_charts_last()
    {
        var (project, task) = await NewTaskAsync("live scalars");
        try
        {
            await web.ApiAsync("tasks.started", new JsonObject { ["task"] = task });
            await AddAsync(task, "loss", "train", 0, 10);
            await AddAsync(task, ":monitor:gpu", "gpu_0_utilization", 0, 5);
            await AddAsync(task, "zeta", "value", 0, 10);

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync($"scalars/{task}");
            var page = tab.Page;
            var titles = page.Locator(".chart h3");
            await Assertions.Expect(titles).ToHaveTextAsync(["loss", "zeta", ":monitor:gpu (%)"]);
            await Assertions.Expect(page.Locator("h2.chart-group")).ToHaveTextAsync("Monitoring");
            var loss = Plot(page, "loss");
            await Assertions.Expect(loss.Locator("canvas")).ToBeVisibleAsync();
            Assert.Equal(10, await PointsAsync(loss));

            // No reload: the tab polls while the experiment runs.
            await AddAsync(task, "loss", "train", 10, 15);
            await page.WaitForFunctionAsync("el => slipway.pointCount(el) === 25", await loss.ElementHandleAsync());
            await tab.ScreenshotAsync("scalars-live");
        }
        finally
        {
            await DeleteAsync(project, task);
        }
    }

    [Fact]
    public async Task Machine_monitoring_draws_one_chart_per_unit_and_every_series_can_have_its_own_chart()
    {
        var (project, task) = await NewTaskAsync("monitored");
        try
        {
            await AddAsync(task, "loss", "train", 0, 10);
            await AddAsync(task, "loss", "validation", 0, 10);
            foreach (var variant in new[] { "cpu_usage", "disk_free_percent", "memory_used_gb", "network_rx_mbs", "network_tx_mbs" })
                await AddAsync(task, ":monitor:machine", variant, 0, 5);

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync($"scalars/{task}");
            var page = tab.Page;
            var titles = page.Locator(".chart h3");
            await Assertions.Expect(titles).ToHaveTextAsync(["loss", ":monitor:machine (%)", ":monitor:machine (GB)", ":monitor:machine (MB/s)"]);
            var network = Plot(page, ":monitor:machine (MB/s)");
            await Assertions.Expect(network.Locator("canvas")).ToBeVisibleAsync();
            Assert.Equal(2, await network.EvaluateAsync<int>("el => el._chart.series.length - 1"));
            await tab.ScreenshotAsync("scalars-monitoring");

            await page.SelectOptionAsync("select[aria-label='Group charts']", "none");
            await Assertions.Expect(titles).ToHaveTextAsync(["loss / train", "loss / validation", ":monitor:machine / cpu_usage",
                ":monitor:machine / disk_free_percent", ":monitor:machine / memory_used_gb", ":monitor:machine / network_rx_mbs", ":monitor:machine / network_tx_mbs"]);
            var train = Plot(page, "loss / train");
            await Assertions.Expect(train.Locator("canvas")).ToBeVisibleAsync();
            Assert.Equal(1, await train.EvaluateAsync<int>("el => el._chart.series.length - 1"));
        }
        finally
        {
            await DeleteAsync(project, task);
        }
    }

    /// <summary>A task in a project of its own, so that the seeded projects keep their counts.</summary>
    private async Task<(string Project, string Task)> NewTaskAsync(string name)
    {
        var project = (await web.ApiAsync("projects.create", new JsonObject { ["name"] = "charts " + Guid.NewGuid().ToString("N")[..8], ["description"] = name }))["id"]!.GetValue<string>();
        var task = await web.NewTaskAsync(name, project: project);
        return (project, task);
    }

    private async Task DeleteAsync(string project, string task)
    {
        await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = task, ["force"] = true });
        await web.ApiAsync("projects.delete", new JsonObject { ["project"] = project, ["force"] = true });
    }

    private Task<JsonObject> AddAsync(string task, string metric, string variant, int from, int count) =>
        web.ApiAsync("events.add_batch", new JsonObject
        {
            ["requests"] = new JsonArray(Enumerable.Range(from, count).Select(i => (JsonNode)new JsonObject
            {
                ["type"] = "training_stats_scalar", ["task"] = task, ["metric"] = metric, ["variant"] = variant,
                ["iter"] = i, ["value"] = 1.0 / (i + 1), ["timestamp"] = 1_767_225_600_000 + i * 1000L,
            }).ToArray()),
        });
}
