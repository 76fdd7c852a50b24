using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

[Collection("web")]
public sealed class QueuesPageTests(WebFixture web)
{
    [Fact]
    public async Task Entries_reorder_with_the_arrows_and_by_dragging_and_the_queue_keeps_the_new_order()
    {
        await using var scratch = new RegistryScratch(web);
        var queue = await scratch.QueueAsync("reorder");
        var (first, second, third) = (await scratch.TaskAsync("job one"), await scratch.TaskAsync("job two"), await scratch.TaskAsync("job three"));
        foreach (var task in new[] { first, second, third })
            await scratch.EnqueueAsync(task, queue);

        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("queues");
        var listed = tab.Page.Locator($"table.queues tr[data-queue='{queue}']");
        await Assertions.Expect(listed.Locator("td").Nth(1)).ToHaveTextAsync("3");
        await Assertions.Expect(listed.GetByRole(AriaRole.Link, new() { Name = "job one" })).ToHaveAttributeAsync("href", $"experiments/{first}"); // the next task
        await listed.Locator("td.name a").First.ClickAsync();
        var rows = tab.Page.Locator($"[data-entries='{queue}'] tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(3);
        await tab.ScreenshotAsync("queues");

        await rows.Nth(2).GetByRole(AriaRole.Button, new() { Name = "Move up" }).ClickAsync();
        await Assertions.Expect(rows.Nth(1)).ToHaveAttributeAsync("data-task", third);
        Assert.Equal([first, third, second], await scratch.EntriesAsync(queue));

        await rows.Nth(2).GetByRole(AriaRole.Button, new() { Name = "Move to top" }).ClickAsync();
        await Assertions.Expect(rows.Nth(0)).ToHaveAttributeAsync("data-task", second);
        Assert.Equal([second, first, third], await scratch.EntriesAsync(queue));

        // Drag the last row onto the first: it takes the first place.
        await rows.Nth(2).DragToAsync(rows.Nth(0));
        await Assertions.Expect(rows.Nth(0)).ToHaveAttributeAsync("data-task", third);
        Assert.Equal([third, second, first], await scratch.EntriesAsync(queue));

        await rows.Nth(0).DragToAsync(rows.Nth(1));
        await Assertions.Expect(rows.Nth(1)).ToHaveAttributeAsync("data-task", third);
        Assert.Equal([second, third, first], await scratch.EntriesAsync(queue));
    }

    [Fact]
    public async Task An_entry_moves_to_another_queue_and_clearing_a_queue_returns_its_tasks_to_created()
    {
        await using var scratch = new RegistryScratch(web);
        var source = await scratch.QueueAsync("source");
        var target = await scratch.QueueAsync("target");
        var (moved, stays) = (await scratch.TaskAsync("to move"), await scratch.TaskAsync("to clear"));
        await scratch.EnqueueAsync(moved, source);
        await scratch.EnqueueAsync(stays, source);

        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync($"queues/{source}");
        var rows = tab.Page.Locator($"[data-entries='{source}'] tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        await rows.Nth(0).GetByLabel("Move to queue").SelectOptionAsync(new SelectOptionValue { Value = target });
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(tab.Page.Locator($"table.queues tr[data-queue='{target}'] td").Nth(1)).ToHaveTextAsync("1");
        Assert.Equal([moved], await scratch.EntriesAsync(target));
        Assert.Equal([stays], await scratch.EntriesAsync(source));
        var task = await web.ApiAsync("tasks.get_by_id", new() { ["task"] = moved });
        Assert.Equal(target, task["task"]!["execution"]!["queue"]!.GetValue<string>());
        Assert.Equal("queued", task["task"]!["status"]!.GetValue<string>());

        await tab.Page.GetByRole(AriaRole.Button, new() { Name = "Clear queue" }).ClickAsync();
        await Assertions.Expect(tab.Page.Locator($"[data-entries='{source}']")).ToContainTextAsync("Nothing queued");
        Assert.Empty(await scratch.EntriesAsync(source));
        var cleared = await web.ApiAsync("tasks.get_by_id", new() { ["task"] = stays });
        Assert.Equal("created", cleared["task"]!["status"]!.GetValue<string>());
        await tab.ScreenshotAsync("queues-cleared");
    }

    [Fact]
    public async Task A_queue_created_on_the_page_shows_tasks_enqueued_elsewhere_without_a_reload()
    {
        await using var scratch = new RegistryScratch(web);
        var name = "made-in-ui-" + scratch.Unique;
        await using var tab = await web.SignedInPageAsync();
        await tab.GotoAsync("queues");
        await tab.Page.GetByLabel("New queue name").FillAsync(name);
        await tab.Page.GetByRole(AriaRole.Button, new() { Name = "Create queue" }).ClickAsync();
        var row = tab.Page.Locator("table.queues tr", new() { HasText = name });
        await Assertions.Expect(row).ToHaveCountAsync(1);
        var id = (await row.GetAttributeAsync("data-queue"))!;
        try
        {
            await row.Locator("td.name a").First.ClickAsync();
            await Assertions.Expect(tab.Page.Locator($"[data-entries='{id}']")).ToContainTextAsync("Nothing queued");
            var task = await scratch.TaskAsync("enqueued by the sdk");
            await scratch.EnqueueAsync(task, id);
            await Assertions.Expect(tab.Page.Locator($"[data-entries='{id}'] tbody tr[data-task='{task}']")).ToBeVisibleAsync(new() { Timeout = 10_000 });
            await Assertions.Expect(row.Locator("td").Nth(1)).ToHaveTextAsync("1");
        }
        finally
        {
            await web.ApiAsync("queues.delete", new() { ["queue"] = id, ["force"] = true });
        }
    }
}
