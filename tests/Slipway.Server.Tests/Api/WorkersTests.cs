using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public abstract class WorkersTests(string engine) : ServerTests(engine)
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);

    protected override TimeProvider? Clock => _clock;

    private Task<JsonObject> ReportAsync(string worker, string? task = null, string? queue = null) =>
        Api.OkAsync("workers.status_report", new JsonObject
        {
            ["worker"] = worker, ["timestamp"] = _clock.GetUtcNow().ToUnixTimeMilliseconds(), ["task"] = task, ["queue"] = queue,
            ["machine_stats"] = new JsonObject { ["cpu_usage"] = new JsonArray(12.5), ["memory_used"] = 1024 },
        });

    [Fact]
    public async Task A_worker_that_finished_its_task_answers_without_one()
    {
        var task = await CreateTaskAsync("running");
        await Api.OkAsync("workers.register", new JsonObject { ["worker"] = "w-idle", ["queues"] = new JsonArray() });
        await Api.OkAsync("workers.status_report", new JsonObject { ["worker"] = "w-idle", ["timestamp"] = 1, ["task"] = task });
        var busy = (await Api.OkAsync("workers.get_all", new JsonObject()))["workers"]!.AsArray().Single(w => w!["id"]!.GetValue<string>() == "w-idle")!.AsObject();
        Assert.Equal(task, busy["task"]!["id"]!.GetValue<string>());

        await Api.OkAsync("workers.status_report", new JsonObject { ["worker"] = "w-idle", ["timestamp"] = 2 });

        var idle = (await Api.OkAsync("workers.get_all", new JsonObject()))["workers"]!.AsArray().Single(w => w!["id"]!.GetValue<string>() == "w-idle")!.AsObject();
        Assert.False(idle.ContainsKey("task"), idle.ToJsonString());
        Assert.False(idle.ContainsKey("machine_stats"), idle.ToJsonString());
    }

    [Fact]
    public async Task Stats_and_activity_aggregate_reports_per_interval()
    {
        var task = await CreateTaskAsync("busy");
        var from = _clock.GetUtcNow().ToUnixTimeSeconds();
        async Task Report(string worker, string? runs, params double[] cpu) => await Api.OkAsync("workers.status_report", new JsonObject
        {
            ["worker"] = worker, ["timestamp"] = _clock.GetUtcNow().ToUnixTimeMilliseconds(), ["task"] = runs,
            ["machine_stats"] = new JsonObject { ["cpu_usage"] = new JsonArray(cpu.Select(c => (JsonNode)c).ToArray()), ["memory_used"] = 100 * cpu.Length },
        });
        await Report("a", task, 10, 30);
        _clock.Advance(TimeSpan.FromSeconds(30));
        await Report("a", null, 20, 40);
        _clock.Advance(TimeSpan.FromSeconds(60));
        await Report("b", null, 50);

        var stats = await Api.OkAsync("workers.get_stats", new JsonObject
        {
            ["worker_ids"] = new JsonArray("a"), ["from_date"] = from, ["to_date"] = from + 120, ["interval"] = 60,
            ["items"] = new JsonArray(new JsonObject { ["key"] = "cpu_usage", ["category"] = "avg" }, new JsonObject { ["key"] = "cpu_usage", ["category"] = "max" }),
        });
        var cpu = stats["workers"]![0]!["metrics"]![0]!;
        Assert.Equal([from], cpu["dates"]!.AsArray().Select(d => d!.GetValue<long>()));
        Assert.Equal((25.0, 30.0), (cpu["stats"]![0]!["values"]![0]!.GetValue<double>(), cpu["stats"]![1]!["values"]![0]!.GetValue<double>()));
        var split = await Api.OkAsync("workers.get_stats", new JsonObject
        {
            ["worker_ids"] = new JsonArray("a"), ["from_date"] = from, ["to_date"] = from + 120, ["interval"] = 60, ["split_by_variant"] = true,
            ["items"] = new JsonArray(new JsonObject { ["key"] = "cpu_usage", ["category"] = "avg" }),
        });
        Assert.Equal(["0:15", "1:35"], split["workers"]![0]!["metrics"]!.AsArray().Select(m => $"{m!["variant"]}:{m["stats"]![0]!["values"]![0]}"));

        var activity = await Api.OkAsync("workers.get_activity_report", new JsonObject { ["from_date"] = from, ["to_date"] = from + 120, ["interval"] = 60 });
        Assert.Equal([from, from + 60], activity["total"]!["dates"]!.AsArray().Select(d => d!.GetValue<long>()));
        Assert.Equal([1, 1], activity["total"]!["counts"]!.AsArray().Select(c => c!.GetValue<int>()));
        Assert.Equal([1, 0], activity["active"]!["counts"]!.AsArray().Select(c => c!.GetValue<int>()));
        Assert.Equal(400, (await Api.CallAsync("workers.get_stats", new JsonObject { ["from_date"] = from, ["to_date"] = from - 1, ["interval"] = 60, ["items"] = new JsonArray() })).Status);
    }

    [Fact]
    public async Task Two_tenants_may_use_the_same_worker_id_without_seeing_or_touching_each_others()
    {
        var (token, _) = await SignInAsNewUserAsync(Slipway.Server.Core.Roles.Admin, "acme-" + Guid.NewGuid().ToString("N")[..6]);
        using var acme = Server.ClientWithToken(token);
        var from = _clock.GetUtcNow().ToUnixTimeSeconds();
        await Api.OkAsync("workers.register", new JsonObject { ["worker"] = "gpu-box:gpu0", ["tags"] = new JsonArray("ours") });
        await ReportAsync("gpu-box:gpu0");
        await acme.OkAsync("workers.register", new JsonObject { ["worker"] = "gpu-box:gpu0", ["tags"] = new JsonArray("theirs") });

        static string Tags(JsonObject reply) => string.Join(",", reply["workers"]!.AsArray().Single(w => w!["id"]!.GetValue<string>() == "gpu-box:gpu0")!["tags"]!.AsArray());
        Assert.Equal("ours", Tags(await Api.OkAsync("workers.get_all")));
        Assert.Equal("theirs", Tags(await acme.OkAsync("workers.get_all")));
        var theirActivity = await acme.OkAsync("workers.get_activity_report", new JsonObject { ["from_date"] = from, ["to_date"] = from + 60, ["interval"] = 60 });
        Assert.DoesNotContain(theirActivity["total"]!["counts"]!.AsArray(), c => c!.GetValue<int>() > 0); // our report is not theirs
        var ourActivity = await Api.OkAsync("workers.get_activity_report", new JsonObject { ["from_date"] = from, ["to_date"] = from + 60, ["interval"] = 60 });
        Assert.Contains(ourActivity["total"]!["counts"]!.AsArray(), c => c!.GetValue<int>() == 1);

        await acme.OkAsync("workers.unregister", new JsonObject { ["worker"] = "gpu-box:gpu0" });
        Assert.Empty((await acme.OkAsync("workers.get_all"))["workers"]!.AsArray());
        Assert.Equal("ours", Tags(await Api.OkAsync("workers.get_all")));
        Assert.Equal(400, (await acme.CallAsync("workers.register", new JsonObject { ["worker"] = "x\u001fy" })).Status);
    }

    /// <summary>The official agent's loop (spec §2f) as far as the server is concerned.</summary>
    [Fact]
    public async Task An_agent_registers_pulls_a_task_reports_it_and_unregisters()
    {
        var queue = (await Api.OkAsync("queues.get_default"))["id"]!.GetValue<string>();
        var task = await CreateTaskAsync("job");
        await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = task, ["queue"] = queue });
        Assert.Equal(200, (await Api.CallAsync("workers.register", new JsonObject { ["worker"] = "host:cpu:0", ["queues"] = new JsonArray(queue) }, version: "")).Status);
        Assert.Equal(404, (await Api.CallAsync("workers.get_runtime_properties", new JsonObject { ["worker"] = "host:cpu:0" }, version: "")).Status);
        Assert.Equal(task, (await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue }))["entry"]!["task"]!.GetValue<string>());
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = task, ["force"] = true, ["status_message"] = "pulled by agent" });
        await ReportAsync("host:cpu:0", task, queue);
        _clock.Advance(TimeSpan.FromSeconds(90));

        var worker = (await Api.OkAsync("workers.get_all"))["workers"]![0]!;
        Assert.Equal("host:cpu:0", worker["id"]!.GetValue<string>());
        Assert.Equal(task, worker["task"]!["id"]!.GetValue<string>());
        Assert.Equal("job", worker["task"]!["name"]!.GetValue<string>());
        Assert.InRange(worker["task"]!["running_time"]!.GetValue<long>(), 90_000, 91_000);
        Assert.Equal("default", worker["queues"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(queue, worker["queue"]!["id"]!.GetValue<string>());
        Assert.Equal("host:cpu:0", (await GetTaskAsync(task))["last_worker"]!.GetValue<string>());

        // A task an agent runs is asked to stop, and the agent stops it.
        await Api.OkAsync("tasks.stop", new JsonObject { ["task"] = task });
        var stopping = await GetTaskAsync(task);
        Assert.Equal(("in_progress", "stopping"), (stopping["status"]!.GetValue<string>(), stopping["status_message"]!.GetValue<string>()));

        await Api.OkAsync("workers.unregister", new JsonObject { ["worker"] = "host:cpu:0", ["queues"] = new JsonArray(queue) });
        Assert.Empty((await Api.OkAsync("workers.get_all"))["workers"]!.AsArray());
        Assert.Equal(400, (await Api.CallAsync("workers.unregister", new JsonObject { ["worker"] = "host:cpu:0" })).Status);
    }

    [Fact]
    public async Task Workers_that_stop_reporting_expire_and_unknown_reporters_are_registered()
    {
        await Api.OkAsync("workers.register", new JsonObject { ["worker"] = "short", ["timeout"] = 60, ["tags"] = new JsonArray("gpu") });
        await ReportAsync("unknown-before");
        Assert.Equal(["short", "unknown-before"], (await Api.OkAsync("workers.get_all"))["workers"]!.AsArray().Select(w => w!["id"]!.GetValue<string>()));
        Assert.Equal(["short"], (await Api.OkAsync("workers.get_all", new JsonObject { ["tags"] = new JsonArray("gpu") }))["workers"]!.AsArray().Select(w => w!["id"]!.GetValue<string>()));
        _clock.Advance(TimeSpan.FromSeconds(61));
        await ReportAsync("fresh");
        Assert.Equal(["fresh", "unknown-before"], (await Api.OkAsync("workers.get_all"))["workers"]!.AsArray().Select(w => w!["id"]!.GetValue<string>()));
        Assert.Equal(["fresh"], (await Api.OkAsync("workers.get_all", new JsonObject { ["last_seen"] = 30 }))["workers"]!.AsArray().Select(w => w!["id"]!.GetValue<string>()));
        Assert.Equal(400, (await Api.CallAsync("workers.status_report", new JsonObject { ["worker"] = "x" })).Status);
    }

    [Fact]
    public async Task The_watchdog_fails_or_requeues_tasks_whose_worker_went_silent()
    {
        var queue = (await Api.OkAsync("queues.get_default"))["id"]!.GetValue<string>();
        async Task<string> RunningOnAsync(string worker, params string[] systemTags)
        {
            var id = await CreateTaskAsync(worker, extra: new JsonObject { ["system_tags"] = new JsonArray(systemTags.Select(t => (JsonNode)t).ToArray()) });
            await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = id, ["queue"] = queue });
            await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue });
            await Api.OkAsync("tasks.started", new JsonObject { ["task"] = id, ["force"] = true });
            await ReportAsync(worker, id, queue);
            return id;
        }
        var lost = await RunningOnAsync("lost");
        var requeued = await RunningOnAsync("lost-too", TaskWatchdog.RequeueTag);
        var alive = await RunningOnAsync("alive");
        var finished = await RunningOnAsync("done");
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = finished });

        _clock.Advance(TimeSpan.FromMinutes(11));
        await ReportAsync("alive", alive, queue);
        var watchdog = Server.Server.Services.GetRequiredService<TaskWatchdog>();
        Assert.Equal(new[] { lost, requeued }.Order(), (await watchdog.RunOnceAsync(CancellationToken.None)).Order());

        var failed = await GetTaskAsync(lost);
        Assert.Equal("failed", failed["status"]!.GetValue<string>());
        Assert.Contains("worker lost stopped reporting", failed["status_reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("queued", (await GetTaskAsync(requeued))["status"]!.GetValue<string>());
        Assert.Equal(requeued, (await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue }))["entry"]!["task"]!.GetValue<string>());
        Assert.Equal("in_progress", (await GetTaskAsync(alive))["status"]!.GetValue<string>());
        Assert.Equal("completed", (await GetTaskAsync(finished))["status"]!.GetValue<string>());
        Assert.Empty(await watchdog.RunOnceAsync(CancellationToken.None));
        Assert.True(Server.Logs.Contains(LogLevel.Warning, $"Task {lost} failed by the watchdog: worker lost stopped reporting"));
        Assert.True(Server.Logs.Contains(LogLevel.Warning, $"Task {requeued} re-queued by the watchdog: worker lost-too stopped reporting"));
        Assert.False(Server.Logs.Contains(LogLevel.Warning, $"Task {alive}"));
    }
}

public sealed class WorkersTestsOnSqlite() : WorkersTests("sqlite");

public sealed class WorkersTestsOnPostgres() : WorkersTests("postgres");
