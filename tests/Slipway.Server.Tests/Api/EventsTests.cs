using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public abstract class EventsTests(string engine) : ServerTests(engine)
{
    [Fact]
    public async Task A_batch_stores_all_five_types_and_counts_events_of_unknown_tasks_as_errors()
    {
        var task = await CreateTaskAsync("t");
        var reply = await Api.AddBatchAsync(
        [
            Scalar(task, "loss", "train", 1, 0.5),
            new JsonObject { ["type"] = "training_stats_vector", ["task"] = task, ["metric"] = "hist", ["variant"] = "w", ["values"] = new JsonArray(1, 2, 3), ["iter"] = 1 },
            new JsonObject { ["type"] = "training_debug_image", ["task"] = task, ["metric"] = "img", ["variant"] = "a", ["iter"] = 1, ["key"] = "p/img_a_00000001.jpeg", ["url"] = "http://files/p/img_a_00000001.jpeg" },
            new JsonObject { ["type"] = "plot", ["task"] = task, ["metric"] = "plot", ["variant"] = "p", ["iter"] = 1, ["plot_str"] = "{}" },
            new JsonObject { ["type"] = "log", ["task"] = task, ["level"] = "INFO", ["msg"] = "hello" },
            Scalar("no-such-task", "loss", "train", 1, 0.5),
            new JsonObject { ["type"] = "bogus", ["task"] = task },
        ]);
        Assert.Equal(200, reply.Status);
        Assert.Equal(5, reply.Data["added"]!.GetValue<int>());
        Assert.Equal(2, reply.Data["errors"]!.GetValue<int>());
        Assert.Equal(1, reply.Data["errors_info"]!["Invalid task id no-such-task"]!.GetValue<int>());

        var all = await Api.OkAsync("events.get_task_events", new JsonObject { ["task"] = task });
        Assert.Equal(["training_stats_vector", "training_debug_image", "plot", "log"], all["events"]!.AsArray().Select(e => e!["type"]!.GetValue<string>()).OrderBy(t => t == "log").ThenBy(t => t == "plot").ThenBy(t => t == "training_debug_image"));
        var images = await Api.OkAsync("events.debug_images", new JsonObject { ["metrics"] = new JsonArray(new JsonObject { ["task"] = task, ["metric"] = "img" }), ["iters"] = 1 });
        Assert.Equal("http://files/p/img_a_00000001.jpeg", images["metrics"]![0]!["iterations"]![0]!["events"]![0]!["url"]!.GetValue<string>());
        var metrics = await Api.OkAsync("events.get_task_metrics", new JsonObject { ["tasks"] = new JsonArray(task) });
        Assert.Equal(["hist", "img", "loss", "plot"], metrics["metrics"]![0]!["metrics"]!.AsArray().Select(m => m!.GetValue<string>()));
    }

    [Fact]
    public async Task Re_sent_scalars_plots_and_images_overwrite_while_logs_append()
    {
        var task = await CreateTaskAsync("t");
        for (var round = 0; round < 2; round++)
        {
            await Api.AddBatchAsync(
            [
                Scalar(task, "loss", "train", 7, round),
                new JsonObject { ["type"] = "plot", ["task"] = task, ["metric"] = "p", ["variant"] = "v", ["iter"] = 7, ["plot_str"] = $"{{\"round\":{round}}}" },
                new JsonObject { ["type"] = "log", ["task"] = task, ["msg"] = $"line {round}" },
            ]);
        }
        var scalars = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task });
        Assert.Equal([1.0], scalars["loss"]!["train"]!["y"]!.AsArray().Select(y => y!.GetValue<double>()));
        var plots = await Api.OkAsync("events.get_task_plots", new JsonObject { ["task"] = task });
        Assert.Equal("{\"round\":1}", Assert.Single(plots["plots"]!.AsArray())!["plot_str"]!.GetValue<string>());
        var log = await Api.OkAsync("events.get_task_log", new JsonObject { ["task"] = task });
        Assert.Equal(2, log["total"]!.GetValue<int>());
        var scalarEvents = await Api.OkAsync("events.get_task_events", new JsonObject { ["task"] = task, ["event_type"] = "training_stats_scalar" });
        Assert.Equal(1, scalarEvents["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task Last_metrics_track_min_max_and_monitoring_does_not_move_the_iteration()
    {
        var task = await CreateTaskAsync("t");
        await Api.AddBatchAsync([Scalar(task, "acc", "val", 1, 0.2), Scalar(task, "acc", "val", 2, 0.9)]);
        await Api.AddBatchAsync([Scalar(task, "acc", "val", 3, 0.5), Scalar(task, ":monitor:machine", "cpu", 500, 12)]);
        var doc = await GetTaskAsync(task);
        Assert.Equal(3, doc["last_iteration"]!.GetValue<long>());
        var acc = doc["last_metrics"]!.AsObject().SelectMany(m => m.Value!.AsObject()).Select(v => v.Value!).Single(v => v["metric"]!.GetValue<string>() == "acc");
        Assert.Equal((0.5, 0.2, 1L, 0.9, 2L, 3L), (acc["value"]!.GetValue<double>(), acc["min_value"]!.GetValue<double>(), acc["min_value_iteration"]!.GetValue<long>(),
            acc["max_value"]!.GetValue<double>(), acc["max_value_iteration"]!.GetValue<long>(), acc["count"]!.GetValue<long>()));
        Assert.Equal(0.2, acc["first_value"]!.GetValue<double>());
        Assert.Equal((0.2 + 0.9 + 0.5) / 3, acc["mean_value"]!.GetValue<double>(), 9);
    }

    [Fact]
    public async Task Console_log_pages_both_ways()
    {
        var task = await CreateTaskAsync("t");
        await Api.AddBatchAsync(Enumerable.Range(0, 25).Select(i => new JsonObject { ["type"] = "log", ["task"] = task, ["msg"] = $"line {i:D2}", ["timestamp"] = 1_700_000_000_000 + i }));
        static string[] Msgs(JsonObject page) => page["events"]!.AsArray().Select(e => e!["msg"]!.GetValue<string>()[5..]).ToArray();

        var latest = await Api.OkAsync("events.get_task_log", new JsonObject { ["task"] = task, ["batch_size"] = 10, ["navigate_earlier"] = true, ["order"] = "asc" });
        Assert.Equal(Enumerable.Range(15, 10).Select(i => i.ToString("D2")), Msgs(latest));
        var earlier = await Api.OkAsync("events.get_task_log", new JsonObject { ["task"] = task, ["batch_size"] = 10, ["scroll_id"] = latest["scroll_id"]!.DeepClone() });
        Assert.Equal(Enumerable.Range(5, 10).Select(i => i.ToString("D2")), Msgs(earlier));
        var head = await Api.OkAsync("events.get_task_log", new JsonObject { ["task"] = task, ["batch_size"] = 10, ["navigate_earlier"] = false });
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i.ToString("D2")), Msgs(head));
        var next = await Api.OkAsync("events.get_task_log", new JsonObject { ["task"] = task, ["batch_size"] = 10, ["navigate_earlier"] = false, ["scroll_id"] = head["scroll_id"]!.DeepClone() });
        Assert.Equal(Enumerable.Range(10, 10).Select(i => i.ToString("D2")), Msgs(next));
        Assert.Equal(25, next["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task Downsampled_histogram_keeps_a_single_spike_visible()
    {
        var task = await CreateTaskAsync("t");
        const int points = 20_000;
        for (var start = 0; start < points; start += 5000)
            await Api.AddBatchAsync(Enumerable.Range(start, 5000).Select(i => Scalar(task, "loss", "train", i, i == 12_345 ? 1000 : 1.0)));
        var reply = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task, ["samples"] = 500 });
        var x = reply["loss"]!["train"]!["x"]!.AsArray().Select(v => v!.GetValue<long>()).ToList();
        var y = reply["loss"]!["train"]!["y"]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
        Assert.InRange(x.Count, 2, 500);
        Assert.Equal(x.Order(), x);
        Assert.Contains(1000, y);
        Assert.Equal(12_345, x[y.IndexOf(1000)]);
        Assert.Equal(0, x[0]);

        var byTime = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task, ["samples"] = 500, ["key"] = "timestamp" });
        Assert.Equal(1_700_000_000_000, byTime["loss"]!["train"]!["x"]![0]!.GetValue<long>());
    }

    [Fact]
    public async Task A_histogram_limited_to_an_iteration_range_returns_its_raw_points_with_timestamps()
    {
        var task = await CreateTaskAsync("t");
        for (var start = 0; start < 20_000; start += 5000)
            await Api.AddBatchAsync(Enumerable.Range(start, 5000).Select(i => Scalar(task, "loss", "train", i, i * 0.25)));
        var reply = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject
        {
            ["task"] = task, ["samples"] = 500, ["from_iter"] = 12_000, ["to_iter"] = 12_399, ["timestamps"] = true,
        });
        var series = reply["loss"]!["train"]!;
        Assert.Equal(Enumerable.Range(12_000, 400).Select(i => (long)i), series["x"]!.AsArray().Select(v => v!.GetValue<long>()));
        Assert.Equal(3000, series["y"]![0]!.GetValue<double>());
        var timestamps = series["timestamps"]!.AsArray().Select(v => v!.GetValue<long>()).ToList();
        Assert.Equal(400, timestamps.Count);
        Assert.Equal(1_700_000_012_000, timestamps[0]);

        var plain = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task, ["samples"] = 500 });
        Assert.Null(plain["loss"]!["train"]!["timestamps"]);
        var multi = await Api.OkAsync("events.multi_task_scalar_metrics_iter_histogram", new JsonObject
        {
            ["tasks"] = new JsonArray(task), ["from_iter"] = 19_990, ["timestamps"] = true,
        });
        Assert.Equal(10, multi["loss"]!["train"]![task]!["timestamps"]!.AsArray().Count);
        var backwards = await Api.CallAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task, ["from_iter"] = 10, ["to_iter"] = 5 });
        Assert.Equal(400, backwards.Status);
    }

    [Fact]
    public async Task Comparison_histogram_groups_series_by_metric_variant_and_task()
    {
        var a = await CreateTaskAsync("run-a");
        var b = await CreateTaskAsync("run-b");
        await Api.AddBatchAsync([Scalar(a, "loss", "train", 1, 0.5), Scalar(b, "loss", "train", 1, 0.7)]);
        var reply = await Api.OkAsync("events.multi_task_scalar_metrics_iter_histogram", new JsonObject { ["tasks"] = new JsonArray(a, b) });
        Assert.Equal("run-a", reply["loss"]!["train"]![a]!["name"]!.GetValue<string>());
        Assert.Equal(0.7, reply["loss"]!["train"]![b]!["y"]![0]!.GetValue<double>());
        var variants = await Api.OkAsync("events.get_scalar_metrics_and_variants", new JsonObject { ["task"] = a });
        Assert.NotNull(variants["metrics"]!["loss"]!["train"]);
    }

    [Fact]
    public async Task Plots_are_limited_to_the_latest_iterations_per_metric()
    {
        var task = await CreateTaskAsync("t");
        await Api.AddBatchAsync(Enumerable.Range(0, 5).Select(i => new JsonObject { ["type"] = "plot", ["task"] = task, ["metric"] = "p", ["variant"] = "v", ["iter"] = i, ["plot_str"] = "{}" }));
        var reply = await Api.OkAsync("events.get_task_plots", new JsonObject { ["task"] = task, ["iters"] = 2 });
        Assert.Equal([3L, 4L], reply["plots"]!.AsArray().Select(p => p!["iter"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Events_add_rejects_an_unknown_task_with_invalid_task_id()
    {
        var reply = await Api.CallAsync("events.add", new JsonObject { ["type"] = "log", ["task"] = "missing", ["msg"] = "x" });
        Assert.Equal((400, 101), (reply.Status, reply.Subcode));
        var task = await CreateTaskAsync("t");
        Assert.Equal(200, (await Api.CallAsync("events.add", new JsonObject { ["type"] = "log", ["task"] = task, ["msg"] = "x" })).Status);
    }
}

public sealed class EventsTestsOnSqlite() : EventsTests("sqlite");

public sealed class EventsTestsOnPostgres() : EventsTests("postgres");
