using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

[Collection("web")]
public sealed class ModelsPageTests(WebFixture web)
{
    [Fact]
    public async Task The_registry_filters_and_a_model_page_shows_its_task_and_publishes_it()
    {
        await using var scratch = new RegistryScratch(web);
        var project = await scratch.ProjectAsync();
        var task = await scratch.TaskAsync("detector training");
        var onnx = await scratch.ModelAsync(new JsonObject
        {
            ["name"] = $"detector-onnx-{scratch.Unique}", ["uri"] = "s3://models/detector.onnx", ["framework"] = "ONNX", ["project"] = project, ["task"] = task,
            ["tags"] = new JsonArray("candidate"), ["labels"] = new JsonObject { ["background"] = 0, ["person"] = 1 },
            ["design"] = new JsonObject { ["design"] = "input: 3x224x224\nbackbone: resnet50" },
        });
        await web.ApiAsync("models.add_or_update_metadata", new JsonObject
        {
            ["model"] = onnx, ["metadata"] = new JsonArray(new JsonObject { ["key"] = "mAP", ["type"] = "float", ["value"] = "0.71" }),
        });
        await scratch.ModelAsync(new JsonObject
        {
            ["name"] = $"detector-torch-{scratch.Unique}", ["uri"] = "s3://models/detector.pt", ["framework"] = "PyTorch", ["project"] = project, ["ready"] = true,
        });

        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("models");
        var rows = tab.Page.Locator("table.models tbody tr");
        await Assertions.Expect(tab.Page.Locator($"tr[data-model='{web.Runs.ModelId}']")).ToContainTextAsync("ONNX");

        await tab.Page.GetByLabel("Project filter").SelectOptionAsync(new SelectOptionValue { Label = $"registry-{scratch.Unique}" });
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        await tab.Page.GetByLabel("Framework filter").SelectOptionAsync("PyTorch");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync("published");
        await tab.Page.GetByLabel("Framework filter").SelectOptionAsync("");
        await tab.Page.GetByLabel("Status filter").SelectOptionAsync("draft");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync("detector-onnx");
        await tab.Page.GetByLabel("Status filter").SelectOptionAsync("");
        await tab.Page.GetByLabel("Tag filter").FillAsync("candidate");
        await tab.Page.GetByLabel("Tag filter").PressAsync("Enter");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await tab.Page.GetByLabel("Tag filter").FillAsync("");
        await tab.Page.GetByLabel("Tag filter").PressAsync("Enter");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        // Sorted by name, ascending then descending.
        await tab.Page.Locator("th", new() { HasText = "Name" }).ClickAsync();
        await Assertions.Expect(rows.First).ToContainTextAsync("detector-onnx");
        await tab.Page.Locator("th", new() { HasText = "Name" }).ClickAsync();
        await Assertions.Expect(rows.First).ToContainTextAsync("detector-torch");
        await tab.Page.FillAsync("input.search", "onnx-" + scratch.Unique);
        await tab.Page.PressAsync("input.search", "Enter");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First.GetByRole(AriaRole.Link, new() { Name = "detector training" })).ToHaveAttributeAsync("href", $"experiments/{task}");
        await tab.ScreenshotAsync("models");

        await rows.First.GetByRole(AriaRole.Link, new() { Name = $"detector-onnx-{scratch.Unique}" }).ClickAsync();
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync($"detector-onnx-{scratch.Unique}");
        await Assertions.Expect(tab.Page.Locator("a.task-link")).ToHaveAttributeAsync("href", $"experiments/{task}");
        await Assertions.Expect(tab.Page.Locator("table.metadata")).ToContainTextAsync("0.71");
        await Assertions.Expect(tab.Page.Locator("table.labels")).ToContainTextAsync("person");
        await Assertions.Expect(tab.Page.Locator("pre.design")).ToContainTextAsync("backbone: resnet50");

        await tab.Page.GetByLabel("New tag").FillAsync("production");
        await tab.Page.GetByLabel("New tag").PressAsync("Enter");
        await Assertions.Expect(tab.Page.Locator(".tag-edit [data-tag='production']")).ToBeVisibleAsync();
        await tab.Page.GetByRole(AriaRole.Button, new() { Name = "Remove tag candidate" }).ClickAsync();
        await Assertions.Expect(tab.Page.Locator(".tag-edit [data-tag='candidate']")).ToHaveCountAsync(0);
        var tags = (await web.ApiAsync("models.get_by_id", new() { ["model"] = onnx }))["model"]!["tags"]!.AsArray().Select(t => t!.GetValue<string>());
        Assert.Equal(["production"], tags);

        await tab.Page.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Assertions.Expect(tab.Page.Locator(".page-head .status")).ToHaveTextAsync("published");
        await Assertions.Expect(tab.Page.GetByRole(AriaRole.Button, new() { Name = "Publish" })).ToHaveCountAsync(0);
        var published = (await web.ApiAsync("models.get_by_id", new() { ["model"] = onnx }))["model"]!;
        Assert.True(published["ready"]!.GetValue<bool>());
        // Only the model: its task stays as it was.
        Assert.Equal("created", (await web.ApiAsync("tasks.get_by_id", new() { ["task"] = task }))["task"]!["status"]!.GetValue<string>());
        await tab.ScreenshotAsync("model");
    }

    [Fact]
    public async Task A_model_file_on_the_file_server_downloads_with_the_page_s_session()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync($"models/{web.Runs.ModelId}");
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync("resnet50");
        await Assertions.Expect(tab.Page.Locator("a.task-link")).ToHaveAttributeAsync("href", $"experiments/{web.Runs.Baseline}");
        var href = await tab.Page.GetByRole(AriaRole.Link, new() { Name = "Download" }).GetAttributeAsync("href");
        Assert.StartsWith(web.Server.FilesUrl.ToString(), href, StringComparison.Ordinal);
        var response = await tab.Page.Context.APIRequest.GetAsync(href!);
        Assert.Equal(200, response.Status);
        Assert.Equal("not really onnx", await response.TextAsync());
        await tab.ScreenshotAsync("model-seeded");
    }
}
