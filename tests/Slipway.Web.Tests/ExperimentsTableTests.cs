using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

[Collection("web")]
public sealed class ExperimentsTableTests(WebFixture web)
{
    [Fact]
    public async Task Signing_in_with_wrong_keys_says_so_and_the_right_keys_open_the_projects()
    {
        await using var tab = await web.NewPageAsync();
        await tab.Page.GotoAsync("projects");
        Assert.Contains("/login", tab.Page.Url, StringComparison.Ordinal);
        await tab.Page.FillAsync("input[name=access_key]", web.Server.NewAdmin!.AccessKey);
        await tab.Page.FillAsync("input[name=secret_key]", "wrong");
        await tab.Page.ClickAsync("button[type=submit]");
        await Assertions.Expect(tab.Page.Locator(".error")).ToContainTextAsync("invalid credentials");
        await tab.ScreenshotAsync("login-error");
        await tab.Page.FillAsync("input[name=access_key]", web.Server.NewAdmin!.AccessKey);
        await tab.Page.FillAsync("input[name=secret_key]", web.Server.NewAdmin!.SecretKey);
        await tab.Page.ClickAsync("button[type=submit]");
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync("Projects");
    }

    [Fact]
    public async Task Projects_show_the_tree_with_counts_per_status()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("projects");
        var resnet = tab.Page.Locator($"tr[data-project='{web.Runs.ProjectId}']");
        await Assertions.Expect(resnet).ToContainTextAsync("resnet");
        await Assertions.Expect(resnet).ToContainTextAsync("completed 2");
        var vision = tab.Page.Locator("tr", new() { HasText = "vision" }).First;
        await Assertions.Expect(vision).ToContainTextAsync("in progress 1");
        await tab.ScreenshotAsync("projects");

        await tab.Page.FillAsync("input.search", "resn");
        await Assertions.Expect(tab.Page.Locator("tbody tr")).ToHaveCountAsync(1);
        await tab.Page.ClickAsync("tbody tr a");
        await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync(SeededRuns.Project);
    }

    [Fact]
    public async Task The_table_filters_searches_and_sorts_by_an_added_metric_column()
    {
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments");
        var rows = tab.Page.Locator("table.experiments tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(2);

        await tab.Page.ClickAsync("details.columns summary");
        var accuracy = tab.Page.Locator(".menu-row", new() { HasText = "accuracy / validation" });
        await accuracy.Locator("label", new() { HasText = "max" }).Locator("input").CheckAsync();
        await tab.Page.Locator(".menu-row", new() { HasText = "General/lr" }).Locator("input").CheckAsync();
        await tab.Page.ClickAsync("details.columns summary");
        var header = tab.Page.Locator("th", new() { HasText = "accuracy / validation (max)" });
        await Assertions.Expect(header).ToBeVisibleAsync();

        await header.ClickAsync(); // first click on a number column sorts highest first
        await Assertions.Expect(rows.First).ToContainTextAsync("resnet tuned lr");
        await Assertions.Expect(rows.First).ToContainTextAsync("0.05");
        await header.ClickAsync();
        await Assertions.Expect(rows.First).ToContainTextAsync("resnet baseline");
        await tab.ScreenshotAsync("experiments-metric-column");

        await tab.Page.FillAsync("input.search", "tuned");
        await tab.Page.PressAsync("input.search", "Enter");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync("resnet tuned lr");
    }

    [Fact]
    public async Task Added_columns_and_the_sort_live_in_the_address_and_come_back_on_the_next_visit()
    {
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments");
        await page.ClickAsync("details.columns summary");
        await page.Locator(".menu-row", new() { HasText = "General/lr" }).Locator("input").CheckAsync();
        await page.ClickAsync("details.columns summary");
        await page.Locator("th", new() { HasText = "General/lr" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"sort=-hyperparams\.General\.lr\.value&cols=hyperparams\.General\.lr\.value$"));
        var shared = page.Url;

        await page.ReloadAsync();
        await page.WaitForSelectorAsync("[data-interactive]", new() { State = WaitForSelectorState.Attached });
        var lr = page.Locator("th", new() { HasText = "General/lr" });
        await Assertions.Expect(lr).ToHaveClassAsync(new Regex("sorted desc"));
        await Assertions.Expect(page.Locator("table.experiments tbody tr").First).ToContainTextAsync("resnet tuned lr");

        // Without a view in the address, the table opens as this browser last left it; the link opens it anywhere.
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments");
        await Assertions.Expect(lr).ToHaveClassAsync(new Regex("sorted desc"));
        await using var other = await web.SignedInPageAsync();
        await other.GotoAsync(shared);
        await Assertions.Expect(other.Page.Locator("th", new() { HasText = "General/lr" })).ToHaveClassAsync(new Regex("sorted desc"));
        await other.GotoAsync("experiments");
        await Assertions.Expect(other.Page.Locator("th", new() { HasText = "General/lr" })).ToHaveCountAsync(0); // views are per project
    }

    [Fact]
    public async Task A_named_view_saved_for_the_team_opens_in_another_browser_and_can_be_deleted()
    {
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        var name = "by lr " + Guid.NewGuid().ToString("N")[..6];
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments?sort=-hyperparams.General.lr.value&cols=hyperparams.General.lr.value");
        await Assertions.Expect(page.Locator("th", new() { HasText = "General/lr" })).ToHaveClassAsync(new Regex("sorted desc"));
        await page.ClickAsync("details.views summary");
        await page.FillAsync("input[aria-label='View name']", name);
        await page.ClickAsync("button:has-text('Save view')");
        await Assertions.Expect(page.Locator(".saved-view", new() { HasText = name })).ToBeVisibleAsync();

        // Another browser, with no view of its own, finds it in the menu; the table opens as it was saved.
        await using var other = await web.SignedInPageAsync();
        await other.GotoAsync($"projects/{web.Runs.ProjectId}/experiments");
        await other.Page.ClickAsync("details.views summary");
        await other.Page.Locator(".saved-view", new() { HasText = name }).Locator("a").ClickAsync();
        var lr = other.Page.Locator("th", new() { HasText = "General/lr" });
        await Assertions.Expect(lr).ToHaveClassAsync(new Regex("sorted desc"));
        await Assertions.Expect(other.Page.Locator("table.experiments tbody tr").First).ToContainTextAsync("resnet tuned lr");
        await other.ScreenshotAsync("experiments-saved-views");

        await OpenViewsAsync(other.Page); // still open after the link (the page is the same)
        await other.Page.Locator(".saved-view", new() { HasText = name }).Locator("button").ClickAsync();
        await Assertions.Expect(other.Page.Locator(".saved-view", new() { HasText = name })).ToHaveCountAsync(0);
        await other.GotoAsync("experiments");
        await OpenViewsAsync(other.Page);
        await Assertions.Expect(other.Page.Locator(".saved-view", new() { HasText = name })).ToHaveCountAsync(0); // views are per table
    }

    private static async Task OpenViewsAsync(IPage page)
    {
        if (await page.Locator("details.views").GetAttributeAsync("open") is null)
            await page.ClickAsync("details.views summary");
    }

    [Fact]
    public async Task All_experiments_show_each_project_and_a_row_opens_its_details_beside_the_table()
    {
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        await tab.GotoAsync("experiments");
        var row = page.Locator($"tr[data-task='{web.Runs.Tuned}']");
        await Assertions.Expect(row.Locator("td.project")).ToHaveTextAsync(SeededRuns.Project);
        await Assertions.Expect(page.Locator("table.experiments th").Nth(2)).ToHaveTextAsync("Project");

        await row.Locator("td").Nth(3).ClickAsync();
        var panel = page.Locator("aside.experiment-detail");
        await Assertions.Expect(panel.Locator("h2 a")).ToHaveTextAsync("resnet tuned lr");
        await Assertions.Expect(panel.Locator("table.params tr", new() { HasText = "General/lr" })).ToContainTextAsync("0.05");
        await Assertions.Expect(panel.Locator("table.metrics tr", new() { HasText = "accuracy / validation" })).ToBeVisibleAsync();
        await Assertions.Expect(row).ToHaveClassAsync(new Regex("detailed"));
        await tab.ScreenshotAsync("experiments-detail");
        await panel.Locator("button.close").ClickAsync();
        await Assertions.Expect(panel).ToHaveCountAsync(0);

        await page.ClickAsync("details.columns summary");
        await page.Locator(".menu-row", new() { HasText = "Project" }).Locator("input").UncheckAsync();
        await Assertions.Expect(row.Locator("td.project")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_project_count_matches_its_table()
    {
        var project = (await web.ApiAsync("projects.create", new JsonObject { ["name"] = "counted " + Guid.NewGuid().ToString("N")[..6], ["description"] = "" }))["id"]!.GetValue<string>();
        await web.NewTaskAsync("shown", project: project);
        var archived = await web.NewTaskAsync("archived", project: project);
        await web.ApiAsync("tasks.archive_many", new JsonObject { ["ids"] = new JsonArray(archived) });
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("projects");
        await Assertions.Expect(tab.Page.Locator($"tr[data-project='{project}'] td.num")).ToHaveTextAsync("1");
        await tab.Page.ClickAsync($"tr[data-project='{project}'] a");
        await Assertions.Expect(tab.Page.Locator("table.experiments tbody tr")).ToHaveCountAsync(1);
        await web.ApiAsync("projects.delete", new JsonObject { ["project"] = project, ["force"] = true, ["delete_contents"] = true });
    }

    [Fact]
    public async Task All_experiments_filter_by_status_and_update_live()
    {
        var task = await web.NewTaskAsync("live status", "testing");
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("experiments");
        var row = tab.Page.Locator($"tr[data-task='{task}']");
        await Assertions.Expect(row).ToContainTextAsync("created");

        await web.ApiAsync("tasks.started", new JsonObject { ["task"] = task });
        await Assertions.Expect(row).ToContainTextAsync("in progress"); // no reload: the page polls

        await tab.Page.ClickAsync(".chips button:text-is('completed')");
        await Assertions.Expect(tab.Page.Locator("table.experiments tbody tr")).ToHaveCountAsync(2);
        await Assertions.Expect(row).ToHaveCountAsync(0);
        await tab.ScreenshotAsync("experiments-all");
        await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = task, ["force"] = true });
    }

    [Fact]
    public async Task Bulk_actions_tag_archive_and_enqueue_the_selected_experiments()
    {
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
            ids.Add(await web.NewTaskAsync($"bulk {i}"));
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync($"projects/{web.Runs.ProjectId}/experiments");
        foreach (var id in ids)
            await tab.Page.Locator($"tr[data-task='{id}'] input[type=checkbox]").CheckAsync();
        await Assertions.Expect(tab.Page.Locator(".bulk")).ToContainTextAsync("2 selected");

        await tab.Page.FillAsync(".bulk input[aria-label='Tag to add']", "sweep-7");
        await tab.Page.ClickAsync(".bulk button:text-is('Add tag')");
        await Assertions.Expect(tab.Page.Locator($"tr[data-task='{ids[0]}'] .tag")).ToHaveTextAsync("sweep-7");

        await tab.Page.ClickAsync(".bulk button:text-is('Enqueue')");
        await Assertions.Expect(tab.Page.Locator($"tr[data-task='{ids[1]}']")).ToContainTextAsync("queued");
        var queued = await web.ApiAsync("tasks.get_all", new JsonObject { ["id"] = new JsonArray(ids[0], ids[1]), ["only_fields"] = new JsonArray("status", "tags") });
        Assert.All(queued["tasks"]!.AsArray(), t => Assert.Equal("queued", t!["status"]!.GetValue<string>()));
        Assert.All(queued["tasks"]!.AsArray(), t => Assert.Contains("sweep-7", t!["tags"]!.AsArray().Select(x => x!.GetValue<string>())));

        await tab.Page.ClickAsync(".bulk button:text-is('Abort')");
        await Assertions.Expect(tab.Page.Locator($"tr[data-task='{ids[0]}']")).ToContainTextAsync("stopped");
        await tab.Page.ClickAsync(".bulk button:text-is('Archive')");
        await Assertions.Expect(tab.Page.Locator($"tr[data-task='{ids[0]}']")).ToHaveCountAsync(0);
        var archived = await web.ApiAsync("tasks.get_all", new JsonObject { ["id"] = new JsonArray(ids[0]), ["only_fields"] = new JsonArray("system_tags") });
        Assert.Contains("archived", archived["tasks"]![0]!["system_tags"]!.AsArray().Select(x => x!.GetValue<string>()));
        await web.ApiAsync("tasks.delete_many", new JsonObject { ["ids"] = new JsonArray(ids[0], ids[1]), ["force"] = true });
    }
}
