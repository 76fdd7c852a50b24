using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>
/// Data shaped as the official ClearML Python SDK (1.17) sends it, posted the way it posts it (events.add_batch as
/// json-lines with a bearer token), shows on the experiment and dataset pages. The event JSON is what the SDK sent in
/// tests/compat/ui_report_all.py.
/// </summary>
[Collection("web")]
public sealed class SdkShapesTests(WebFixture web)
{
    [Fact]
    public async Task Console_colours_and_progress_bar_redraws_show_as_a_terminal_would()
    {
        var id = await web.NewTaskAsync("sdk console");
        try
        {
            await AddBatchAsync(
                new JsonObject
                {
                    ["type"] = "log", ["task"] = id, ["level"] = "info", ["worker"] = "vm", ["timestamp"] = 1796149722000,
                    ["msg"] = "plain line\n\u001b[31mred error text\u001b[0m and \u001b[1;32mbold green\u001b[0m\n"
                              + "tqdm bar:  10%|\u2588         | 3/30 [00:00<00:00, 96.00it/s]\rtqdm bar: 100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 30/30 [00:00<00:00, 93.39it/s]\n"
                              + "\u001b]0;window title\u0007\u001b[2Kafter progress\r\n",
                });
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync($"experiments/{id}/console");
            var console = tab.Page.Locator("pre.console");
            await Assertions.Expect(console.Locator("span.line")).ToHaveCountAsync(4);
            await Assertions.Expect(console.Locator("span.ansi-fg-1")).ToHaveTextAsync("red error text");
            await Assertions.Expect(console.Locator("span.ansi-fg-2.ansi-bold")).ToHaveTextAsync("bold green");
            await Assertions.Expect(console.Locator("span.line").Nth(1)).ToHaveTextAsync("red error text and bold green\n");
            await Assertions.Expect(console.Locator("span.line").Nth(2)).ToHaveTextAsync("tqdm bar: 100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 30/30 [00:00<00:00, 93.39it/s]\n");
            await Assertions.Expect(console.Locator("span.line").Nth(3)).ToHaveTextAsync("after progress\n");
            var text = await console.InnerTextAsync();
            Assert.DoesNotContain("\u001b", text, StringComparison.Ordinal);
            Assert.DoesNotContain("[31m", text, StringComparison.Ordinal);
            Assert.DoesNotContain("10%", text, StringComparison.Ordinal);
            Assert.NotEqual(
                await console.Locator("span.line").Nth(0).EvaluateAsync<string>("e => getComputedStyle(e).color"),
                await console.Locator("span.ansi-fg-1").EvaluateAsync<string>("e => getComputedStyle(e).color"));

            // the search still finds words inside coloured runs
            await tab.Page.FillAsync("input[aria-label='Search the log']", "green");
            await Assertions.Expect(console.Locator("span.ansi-fg-2 mark")).ToHaveTextAsync("green");
            await tab.ScreenshotAsync("sdk-console");
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task Plots_with_the_SDK_s_string_titles_draw_chart_and_axis_titles()
    {
        var id = await web.NewTaskAsync("sdk plots");
        try
        {
            await AddBatchAsync(
                Plot(id, "confusion", "cm", 3,
                    """{"data": [{"x": ["cat", "dog"], "y": ["cat", "dog"], "z": [[5.0, 1.0], [2.0, 7.0]], "type": "heatmap", "texttemplate": "%{z}"}], "layout": {"showlegend": true, "title": "confusion", "xaxis": {"title": "predicted"}, "yaxis": {"title": "actual"}, "name": "cm", "texttemplate": "%{z}"}}"""),
                Plot(id, "lineplot", "", 3,
                    """{"data": [{"name": "one", "x": [0, 1, 2], "y": [1, 2, 1], "mode": "lines", "text": null, "type": "scatter"}], "layout": {"title": "lineplot", "xaxis": {"title": "x", "showspikes": true, "spikethickness": 1, "spikesnap": "cursor", "spikemode": "toaxis+across"}, "yaxis": {"title": "y", "showspikes": true, "spikethickness": 1, "spikesnap": "cursor", "spikemode": "toaxis+across"}, "showlegend": true}}"""),
                // matplotlib figures converted by the SDK carry titlefont beside the string title
                Plot(id, "matplotlib", "as-plot", 5,
                    """{"data": [{"type": "scatter", "mode": "lines", "name": "zigzag", "x": [0.0, 1.0, 2.0, 3.0], "y": [3.0, 1.0, 2.0, 0.0], "xaxis": "x1", "yaxis": "y1", "line": {"color": "rgba (31, 119, 180, 255)", "width": 1.5, "dash": "solid"}, "marker": {}}], "layout": {"width": null, "height": null, "autosize": true, "hovermode": "closest", "margin": {}, "title": "matplotlib plot", "titlefont": {"size": 12.0, "color": "#000000"}, "xaxis1": {"anchor": "y1", "title": "epoch", "titlefont": {"size": 10.0, "color": "#000000"}}, "yaxis1": {"anchor": "x1", "title": "loss"}}}"""));
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync($"experiments/{id}/plots");
            var confusion = tab.Page.Locator("figure[data-plot='confusion/cm']");
            await Assertions.Expect(confusion.Locator(".js-plotly-plot")).ToHaveCountAsync(1);
            await Assertions.Expect(confusion.Locator("text.gtitle")).ToHaveTextAsync("confusion");
            await Assertions.Expect(confusion.Locator("text.xtitle")).ToHaveTextAsync("predicted");
            await Assertions.Expect(confusion.Locator("text.ytitle")).ToHaveTextAsync("actual");

            var line = tab.Page.Locator("figure[data-plot='lineplot/']");
            await Assertions.Expect(line.Locator("text.xtitle")).ToHaveTextAsync("x");
            await Assertions.Expect(line.Locator("h3")).ToHaveTextAsync("lineplot · iteration 3"); // no variant, no "/"

            var mpl = tab.Page.Locator("figure[data-plot='matplotlib/as-plot']");
            await Assertions.Expect(mpl.Locator("text.gtitle")).ToHaveTextAsync("matplotlib plot");
            await Assertions.Expect(mpl.Locator("text.xtitle")).ToHaveTextAsync("epoch");
            await Assertions.Expect(mpl.Locator("text.ytitle")).ToHaveTextAsync("loss");
            Assert.Equal("10px", await mpl.Locator("text.xtitle").EvaluateAsync<string>("e => e.style.fontSize"));
            await tab.ScreenshotAsync("sdk-plots");
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task Report_media_files_and_image_artifacts_show_by_their_kind()
    {
        var id = await web.NewTaskAsync("sdk media");
        try
        {
            var prefix = $"sdk-shapes/sdk-media.{id}";
            var png = await UploadAsync($"{prefix}/metrics/images/rgb/images_rgb_00000000.png", SeededRuns.Png(8, 8, 90));
            var html = await UploadAsync($"{prefix}/metrics/media/html/media_html_00000000.html", Encoding.UTF8.GetBytes("<html><body><h1>media</h1></body></html>"));
            var wav = await UploadAsync($"{prefix}/metrics/audio/tone/audio_tone_00000000.wav", Wav());
            var artifact = await UploadAsync($"{prefix}/artifacts/image/image.png", SeededRuns.Png(10, 10, 30));
            await AddBatchAsync(DebugImage(id, "images", "rgb", png), DebugImage(id, "media", "html", html), DebugImage(id, "audio", "tone", wav));
            await web.ApiAsync("tasks.add_or_update_artifacts", new JsonObject
            {
                ["task"] = id,
                ["artifacts"] = new JsonArray(new JsonObject
                {
                    ["key"] = "image", ["type"] = "image", ["mode"] = "output", ["uri"] = artifact.ToString(), ["content_size"] = 76,
                    ["hash"] = "0f1e", ["timestamp"] = 1796149724,
                    ["type_data"] = new JsonObject { ["preview"] = "PIL.Image.Image image mode=RGB size=10x10", ["content_type"] = "image/png" },
                }),
            });

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync($"experiments/{id}/debug-images");
            await Assertions.Expect(tab.Page.Locator("figure[data-image='images/rgb'] img")).ToHaveAttributeAsync("src", png.ToString());
            var page = tab.Page.Locator("figure[data-image='media/html']");
            await Assertions.Expect(page.Locator("img")).ToHaveCountAsync(0); // an HTML page is no picture
            await Assertions.Expect(page.Locator("a.media-file")).ToHaveAttributeAsync("href", html.ToString());
            await Assertions.Expect(page.Locator("a.media-file")).ToContainTextAsync("media_html_00000000.html");
            await Assertions.Expect(tab.Page.Locator("figure[data-image='audio/tone'] audio")).ToHaveAttributeAsync("src", wav.ToString());
            await tab.ScreenshotAsync("sdk-media");

            await tab.Page.ClickAsync("nav.tabs a:text-is('Artifacts')");
            var preview = tab.Page.Locator("tr[data-preview='image'] img.artifact-image");
            await Assertions.Expect(preview).ToHaveAttributeAsync("src", artifact.ToString());
            await Assertions.Expect(preview).ToHaveJSPropertyAsync("naturalWidth", 10); // the file server gave the picture to the page's cookie
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task The_dataset_page_address_the_SDK_prints_opens_the_version()
    {
        var project = $"sdk-shapes-ds-{Guid.NewGuid().ToString("N")[..8]}";
        var folder = Directory.CreateTempSubdirectory("slipway-web-sdk-dataset-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "a.csv"), "x,y\n1,2\n");
            var dataset = await web.Client.Datasets.CreateAsync(project, "linked");
            await dataset.AddFilesAsync(folder.FullName);
            await dataset.UploadAsync();
            await dataset.FinalizeAsync();
            var task = (await web.ApiAsync("tasks.get_all", new JsonObject { ["id"] = new JsonArray(dataset.Id), ["only_fields"] = new JsonArray("project") }))["tasks"]![0]!;
            var projectId = task["project"]!.GetValue<string>();

            await using var tab = await web.SignedInPageAsync();
            // "ClearML dataset page: <web>/datasets/simple/<project id>/experiments/<dataset id>"
            await tab.GotoAsync($"datasets/simple/{projectId}/experiments/{dataset.Id}");
            await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync($"linked {dataset.Version}");
            await Assertions.Expect(tab.Page.Locator("main")).ToContainTextAsync("a.csv");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static JsonObject Plot(string task, string metric, string variant, int iter, string plotStr) => new()
    {
        ["type"] = "plot", ["task"] = task, ["iter"] = iter, ["metric"] = metric, ["variant"] = variant, ["plot_str"] = plotStr,
        ["timestamp"] = 1796149723000,
    };

    private static JsonObject DebugImage(string task, string metric, string variant, Uri url) => new()
    {
        ["type"] = "training_debug_image", ["task"] = task, ["iter"] = 0, ["metric"] = metric, ["variant"] = variant,
        ["key"] = url.AbsolutePath.TrimStart('/'), ["url"] = url.ToString(), ["timestamp"] = 1796149723000,
    };

    private async Task<Uri> UploadAsync(string path, byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        return await web.Client.Files.UploadAsync(stream, path);
    }

    /// <summary>The SDK's request: a token from auth.login with the key pair, then the events as JSON lines.</summary>
    private async Task AddBatchAsync(params JsonObject[] events)
    {
        using var http = new HttpClient { BaseAddress = web.Server.ApiUrl };
        var keys = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{web.Server.NewAdmin!.AccessKey}:{web.Server.NewAdmin!.SecretKey}"));
        using var login = new HttpRequestMessage(HttpMethod.Get, "auth.login");
        login.Headers.Authorization = new AuthenticationHeaderValue("Basic", keys);
        using var loggedIn = await http.SendAsync(login);
        var token = JsonNode.Parse(await loggedIn.Content.ReadAsStringAsync())!["data"]!["token"]!.GetValue<string>();

        using var request = new HttpRequestMessage(HttpMethod.Post, "events.add_batch")
        {
            Content = new StringContent(string.Join("\n", events.Select(e => e.ToJsonString())), Encoding.UTF8, "application/json-lines"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var data = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!;
        Assert.Equal(events.Length, data["added"]!.GetValue<int>());
    }

    /// <summary>A short, valid WAV file (8 kHz, 8-bit mono), so the browser's audio element loads it without an error.</summary>
    private static byte[] Wav()
    {
        const int samples = 800;
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write("RIFF"u8);
        w.Write(36 + samples);
        w.Write("WAVEfmt "u8);
        w.Write(16);
        w.Write((short)1);
        w.Write((short)1);
        w.Write(8000);
        w.Write(8000);
        w.Write((short)1);
        w.Write((short)8);
        w.Write("data"u8);
        w.Write(samples);
        for (var i = 0; i < samples; i++)
            w.Write((byte)(128 + 60 * Math.Sin(i / 4.0)));
        w.Flush();
        return ms.ToArray();
    }
}
