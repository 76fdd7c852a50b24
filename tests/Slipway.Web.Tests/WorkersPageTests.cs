using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

[Collection("web")]
public sealed class WorkersPageTests(WebFixture web)
{
    [Fact]
    public async Task A_reporting_worker_shows_its_task_queues_and_utilisation_charts()
    {
        await using var scratch = new RegistryScratch(web);
        var queue = await scratch.QueueAsync("gpu");
        var task = await scratch.TaskAsync("worker job");
        await web.ApiAsync("tasks.started", new JsonObject { ["task"] = task });
        var worker = $"gpu-box-{scratch.Unique}:0";
        await web.ApiAsync("workers.register", new JsonObject { ["worker"] = worker, ["queues"] = new JsonArray(queue) });
        try
        {
            foreach (var (cpu, gpu) in new[] { (40.0, 70.0), (60.0, 90.0) })
            {
                await web.ApiAsync("workers.status_report", new JsonObject
                {
                    ["worker"] = worker, ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ["task"] = task, ["queue"] = queue,
                    ["machine_stats"] = new JsonObject
                    {
                        ["cpu_usage"] = new JsonArray(cpu, cpu + 10), ["gpu_usage"] = new JsonArray(gpu),
                        ["memory_used"] = 6144, ["memory_free"] = 10240, ["gpu_memory_used"] = new JsonArray(2048),
                    },
                });
            }

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("workers");
            var row = tab.Page.Locator($"table.workers tr[data-worker='{worker}']");
            await Assertions.Expect(row).ToContainTextAsync("running");
            await Assertions.Expect(row.GetByRole(AriaRole.Link, new() { Name = "worker job" })).ToHaveAttributeAsync("href", $"experiments/{task}");
            await Assertions.Expect(row).ToContainTextAsync($"gpu-{scratch.Unique}");

            var usage = tab.Page.Locator($"section.worker-usage[data-worker='{worker}']");
            await Assertions.Expect(usage.Locator(".chart h3")).ToHaveTextAsync(["CPU and GPU (%)", "Memory (GiB)"]);
            // Both reports fall in one 30 s interval: CPU averages the cores and the reports (45 and 65 → 55), memory is 6 GiB.
            await Assertions.Expect(usage.Locator(".latest")).ToContainTextAsync("CPU % 55");
            await Assertions.Expect(usage.Locator(".latest")).ToContainTextAsync("memory GiB 6");
            foreach (var chart in new[] { "CPU and GPU (%)", "Memory (GiB)" })
            {
                var plot = await usage.Locator($".chart[data-chart='{chart}'] .plot").ElementHandleAsync();
                await tab.Page.WaitForFunctionAsync("el => slipway.pointCount(el) > 0", plot);
            }
            await tab.ScreenshotAsync("workers");
        }
        finally
        {
            await web.ApiAsync("workers.unregister", new JsonObject { ["worker"] = worker });
        }
    }

    [Fact]
    public async Task A_worker_the_autoscaler_drains_and_one_whose_machine_is_reclaimed_say_so_with_the_reason()
    {
        await using var scratch = new RegistryScratch(web);
        var queue = await scratch.QueueAsync("spot");
        var drained = $"drained-{scratch.Unique}:0";
        var reclaimed = $"reclaimed-{scratch.Unique}:0";
        foreach (var worker in new[] { drained, reclaimed })
            await web.ApiAsync("workers.register", new JsonObject { ["worker"] = worker, ["queues"] = new JsonArray(queue) });
        try
        {
            await web.ApiAsync("autoscaler.drain_workers", new JsonObject { ["workers"] = new JsonArray(drained), ["reason"] = "idle for 600 s" });
            await web.ApiAsync("workers.status_report", new JsonObject
            {
                ["worker"] = reclaimed, ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ["queue"] = queue,
                ["interruption"] = "spot instance-action terminate at 2026-12-04T23:00:00Z",
            });

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("workers");
            var drainedRow = tab.Page.Locator($"table.workers tr[data-worker='{drained}']");
            await Assertions.Expect(drainedRow.Locator(".status-draining")).ToHaveAttributeAsync("title", "idle for 600 s");
            await Assertions.Expect(drainedRow.Locator(".status-interrupted")).ToHaveCountAsync(0);
            var reclaimedRow = tab.Page.Locator($"table.workers tr[data-worker='{reclaimed}']");
            await Assertions.Expect(reclaimedRow.Locator(".status-interrupted")).ToHaveAttributeAsync("title", "spot instance-action terminate at 2026-12-04T23:00:00Z");
            await Assertions.Expect(reclaimedRow.Locator(".status-draining")).ToHaveCountAsync(0);
        }
        finally
        {
            foreach (var worker in new[] { drained, reclaimed })
                await web.ApiAsync("workers.unregister", new JsonObject { ["worker"] = worker });
        }
    }
}
