using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

/// <summary>Reproducing from the browser: clone, edit the draft, enqueue, abort, reset, archive, delete, under the API's rules.</summary>
[Collection("web")]
public sealed partial class ReproduceTests(WebFixture web)
{
    [Fact]
    public async Task Clone_edit_a_hyperparameter_and_enqueue()
    {
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        await tab.GotoAsync("experiments/" + web.Runs.Baseline);
        await page.ClickAsync(".experiment-head button:text-is('Clone')");
        var dialog = page.Locator(".dialog[role=dialog]");
        await Assertions.Expect(dialog.Locator("input[aria-label='New name']")).ToHaveValueAsync("Clone of resnet baseline");
        await Assertions.Expect(dialog.Locator("select[aria-label='Target project']")).ToHaveValueAsync(web.Runs.ProjectId);
        await dialog.Locator("input[aria-label='New name']").FillAsync("baseline lr 0.2");
        await tab.ScreenshotAsync("reproduce-clone-dialog");
        await dialog.Locator("button:text-is('Clone')").ClickAsync();

        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("baseline lr 0.2");
        var id = IdOf(page.Url);
        try
        {
            Assert.NotEqual(web.Runs.Baseline, id);
            await Assertions.Expect(page.Locator(".experiment-head .status")).ToHaveTextAsync("created");

            await page.ClickAsync("nav.tabs a:text-is('Hyperparameters')");
            var lr = page.Locator("input[aria-label='General/lr']");
            await Assertions.Expect(lr).ToHaveValueAsync("0.01");
            await lr.FillAsync("0.2");
            await lr.PressAsync("Tab");
            await Assertions.Expect(page.Locator(".notice")).ToHaveTextAsync("Saved General/lr = 0.2");
            await tab.ScreenshotAsync("reproduce-draft-hyperparameters");

            await page.Locator(".experiment-head select[aria-label='Queue']").SelectOptionAsync("default");
            await page.ClickAsync(".experiment-head button:text-is('Enqueue')");
            await Assertions.Expect(page.Locator(".experiment-head .status")).ToHaveTextAsync("queued");
            await Assertions.Expect(page.Locator("input[aria-label='General/lr']")).ToHaveCountAsync(0); // no longer a draft
            await tab.ScreenshotAsync("reproduce-queued");

            var clone = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;
            Assert.Equal("queued", clone["status"]!.GetValue<string>());
            Assert.Equal("0.2", clone["hyperparams"]!["General"]!["lr"]!["value"]!.GetValue<string>());
            Assert.Equal(web.Runs.Baseline, clone["parent"]!.GetValue<string>());
            Assert.Equal(web.Runs.ProjectId, clone["project"]!.GetValue<string>());
            var queues = await web.ApiAsync("queues.get_all", new JsonObject { ["name"] = "^default$" });
            Assert.Equal(queues["queues"]![0]!["id"]!.GetValue<string>(), clone["execution"]!["queue"]!.GetValue<string>());
            var original = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = web.Runs.Baseline }))["task"]!;
            Assert.Equal("0.01", original["hyperparams"]!["General"]!["lr"]!["value"]!.GetValue<string>());
            Assert.Equal("completed", original["status"]!.GetValue<string>());
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task A_draft_edits_execution_configuration_and_parameters()
    {
        var id = await CloneAsync(web.Runs.Tuned, "draft edits");
        try
        {
            await using var tab = await web.SignedInPageAsync();
            var page = tab.Page;
            await web.ApiAsync("tasks.edit_hyper_params", new JsonObject
            {
                ["task"] = id,
                ["hyperparams"] = new JsonArray(new JsonObject { ["section"] = "Args", ["name"] = "seed", ["value"] = "7", ["description"] = "random seed" }),
            });
            await tab.GotoAsync("experiments/" + id);
            await Assertions.Expect(page.Locator("table.args tr", new() { HasText = "seed" })).ToContainTextAsync("7");
            await page.ClickAsync("button:text-is('Edit execution')");
            await page.FillAsync("input[aria-label='Branch']", "feature/warmup");
            await page.FillAsync("input[aria-label='Commit']", "abc1234");
            await page.FillAsync("input[aria-label='Entry point']", "train_v2.py");
            await page.FillAsync("textarea[aria-label='Requirements']", "torch==2.4.0\nnumpy\npandas\n");
            await page.FillAsync("input[aria-label='Container image']", "pytorch/pytorch:2.4.0-cuda12.1");
            await tab.ScreenshotAsync("reproduce-edit-execution");
            await page.ClickAsync("button:text-is('Save')");
            await Assertions.Expect(page.Locator(".notice")).ToHaveTextAsync("Saved the execution settings.");
            await Assertions.Expect(page.Locator("dl.execution-fields")).ToContainTextAsync("feature/warmup");
            await Assertions.Expect(page.Locator("pre.requirements")).ToContainTextAsync("pandas");

            await page.ClickAsync("nav.tabs a:text-is('Hyperparameters')");
            await page.FillAsync("input[aria-label='New parameter name']", "momentum");
            await page.FillAsync("input[aria-label='New parameter value']", "0.9");
            await page.ClickAsync("button:text-is('Add parameter')");
            await Assertions.Expect(page.Locator("input[aria-label='General/momentum']")).ToHaveValueAsync("0.9");
            await page.ClickAsync("button[aria-label='Delete General/batch_size']");
            await Assertions.Expect(page.Locator("tr[data-param='General/batch_size']")).ToHaveCountAsync(0);
            await page.ClickAsync("section[data-config='model'] button:text-is('Edit')");
            await page.FillAsync("textarea[aria-label='Configuration model']", "{\"layers\": 101, \"dropout\": 0.2}");
            await page.ClickAsync("button:text-is('Save configuration')");
            await Assertions.Expect(page.Locator("section[data-config='model'] pre")).ToContainTextAsync("\"layers\": 101");

            var task = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;
            Assert.Equal("feature/warmup", task["script"]!["branch"]!.GetValue<string>());
            Assert.Equal("abc1234", task["script"]!["version_num"]!.GetValue<string>());
            Assert.Equal("train_v2.py", task["script"]!["entry_point"]!.GetValue<string>());
            Assert.Equal("https://example.invalid/team/vision.git", task["script"]!["repository"]!.GetValue<string>());
            Assert.Contains("pandas", task["script"]!["requirements"]!["pip"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("pytorch/pytorch:2.4.0-cuda12.1", task["container"]!["image"]!.GetValue<string>());
            Assert.Equal("0.9", task["hyperparams"]!["General"]!["momentum"]!["value"]!.GetValue<string>());
            Assert.Null(task["hyperparams"]!["General"]!["batch_size"]);
            Assert.Equal(101, JsonNode.Parse(task["configuration"]!["model"]!["value"]!.GetValue<string>())!["layers"]!.GetValue<int>());
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task Abort_stops_a_running_task()
    {
        var id = await RunningTaskAsync("abort me");
        try
        {
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("experiments/" + id);
            var status = tab.Page.Locator(".experiment-head .status");
            await Assertions.Expect(status).ToHaveTextAsync("in progress");
            await Assertions.Expect(tab.Page.Locator(".experiment-head button:text-is('Enqueue')")).ToHaveCountAsync(0);
            await tab.Page.ClickAsync(".experiment-head button:text-is('Abort')");
            await Assertions.Expect(status).ToHaveTextAsync("stopped");
            await Assertions.Expect(tab.Page.Locator(".experiment-head button:text-is('Reset')")).ToBeVisibleAsync();
            await tab.ScreenshotAsync("reproduce-aborted");
            var task = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;
            Assert.Equal("stopped", task["status"]!.GetValue<string>());
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task What_the_API_refuses_shows_its_message()
    {
        var id = await RunningTaskAsync("still running");
        try
        {
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("experiments/" + id);
            await tab.Page.ClickAsync(".experiment-head button:text-is('Delete')");
            await tab.Page.ClickAsync("[role=alertdialog] button:text-is('Yes, delete')");
            await Assertions.Expect(tab.Page.Locator(".error[role=alert]")).ToContainTextAsync("a task in progress can only be deleted with force");
            await tab.ScreenshotAsync("reproduce-refused");
            var task = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;
            Assert.Equal("in_progress", task["status"]!.GetValue<string>());

            // A project chosen in the clone dialog that is deleted before the click: the API's answer shows in the dialog.
            var project = (await web.ApiAsync("projects.create", new JsonObject { ["name"] = "short lived clone target", ["description"] = "" }))["id"]!.GetValue<string>();
            await tab.Page.ClickAsync(".experiment-head button:text-is('Clone')");
            var dialog = tab.Page.Locator(".dialog[role=dialog]");
            await dialog.Locator("select[aria-label='Target project']").SelectOptionAsync(project);
            await web.ApiAsync("projects.delete", new JsonObject { ["project"] = project });
            await dialog.Locator("button:text-is('Clone')").ClickAsync();
            await Assertions.Expect(dialog.Locator(".error")).ToContainTextAsync(project);
            await tab.ScreenshotAsync("reproduce-clone-refused");
            var clones = await web.ApiAsync("tasks.get_all", new JsonObject { ["parent"] = new JsonArray(id) });
            Assert.Empty(clones["tasks"]!.AsArray());
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    [Fact]
    public async Task Reset_publish_archive_and_delete_follow_the_status()
    {
        var id = await CloneAsync(web.Runs.Tuned, "lifecycle");
        var deleted = false;
        try
        {
            await using var tab = await web.SignedInPageAsync();
            var page = tab.Page;
            var status = page.Locator(".experiment-head .status");
            await tab.GotoAsync("experiments/" + id);
            await Assertions.Expect(page.Locator(".experiment-head button:text-is('Publish')")).ToHaveCountAsync(0);
            await page.ClickAsync(".experiment-head button:text-is('Enqueue')");
            await Assertions.Expect(status).ToHaveTextAsync("queued");
            await page.ClickAsync(".experiment-head button:text-is('Abort')");
            await Assertions.Expect(status).ToHaveTextAsync("stopped");
            await page.ClickAsync(".experiment-head button:text-is('Reset')");
            await Assertions.Expect(status).ToHaveTextAsync("created");

            await web.ApiAsync("tasks.started", new JsonObject { ["task"] = id });
            await web.ApiAsync("tasks.completed", new JsonObject { ["task"] = id });
            await Assertions.Expect(status).ToHaveTextAsync("completed"); // live
            await page.ClickAsync(".experiment-head button:text-is('Publish')");
            await Assertions.Expect(status).ToHaveTextAsync("published");
            await Assertions.Expect(page.Locator(".experiment-head button:text-is('Reset')")).ToHaveCountAsync(0);

            await page.ClickAsync(".experiment-head button:text-is('Archive')");
            await Assertions.Expect(page.Locator(".experiment-head .tag")).ToHaveTextAsync("archived");
            var archived = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;
            Assert.Contains("archived", archived["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));
            await page.ClickAsync(".experiment-head button:text-is('Unarchive')");
            await Assertions.Expect(page.Locator(".experiment-head .tag")).ToHaveCountAsync(0);

            await page.ClickAsync(".experiment-head button:text-is('Delete')");
            await tab.ScreenshotAsync("reproduce-confirm-delete");
            await page.ClickAsync("[role=alertdialog] button:text-is('Yes, delete')");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex($"/projects/{web.Runs.ProjectId}/experiments$"));
            deleted = true;
            var gone = await Assert.ThrowsAnyAsync<Exception>(() => web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }));
            Assert.Contains(id, gone.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (!deleted)
                await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    private async Task<string> CloneAsync(string source, string name) =>
        (await web.ApiAsync("tasks.clone", new JsonObject { ["task"] = source, ["new_task_name"] = name }))["id"]!.GetValue<string>();

    [Fact]
    public async Task A_failed_run_offers_reset_beside_enqueue()
    {
        var id = await RunningTaskAsync("fails at epoch 3");
        try
        {
            await web.ApiAsync("tasks.failed", new JsonObject { ["task"] = id, ["status_reason"] = "CUDA out of memory" });
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("experiments/" + id);
            var status = tab.Page.Locator(".experiment-head .status");
            await Assertions.Expect(status).ToHaveTextAsync("failed");
            await Assertions.Expect(tab.Page.Locator(".experiment-head button:text-is('Enqueue')")).ToBeVisibleAsync();
            await tab.Page.ClickAsync(".experiment-head button:text-is('Reset')");
            await Assertions.Expect(status).ToHaveTextAsync("created");
            var task = (await web.ApiAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;
            Assert.Equal("created", task["status"]!.GetValue<string>());
        }
        finally
        {
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = id, ["force"] = true });
        }
    }

    private async Task<string> RunningTaskAsync(string name)
    {
        var id = await web.NewTaskAsync(name);
        await web.ApiAsync("tasks.started", new JsonObject { ["task"] = id });
        return id;
    }

    private static string IdOf(string url) => IdInUrl().Match(url).Groups[1].Value;

    [GeneratedRegex("/experiments/([0-9a-f]{32})")]
    private static partial Regex IdInUrl();
}
