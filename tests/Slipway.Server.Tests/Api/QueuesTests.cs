using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Slipway.Server.Storage;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public abstract class QueuesTests(string engine) : ServerTests(engine)
{
    [Fact]
    public async Task The_default_queue_exists_from_the_first_start()
    {
        var found = await Api.OkAsync("queues.get_default");
        Assert.Equal("default", found["name"]!.GetValue<string>());
        var queue = (await Api.OkAsync("queues.get_by_id", new JsonObject { ["queue"] = found["id"]!.DeepClone() }))["queue"]!;
        Assert.Equal(["default"], queue["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));
    }

    [Fact]
    public async Task Queues_are_created_updated_reordered_and_deleted()
    {
        var queue = (await Api.OkAsync("queues.create", new JsonObject { ["name"] = "gpu", ["tags"] = new JsonArray("fast") }))["id"]!.GetValue<string>();
        Assert.Equal((400, 801), await StatusOf(Api.CallAsync("queues.create", new JsonObject { ["name"] = "gpu" })));
        var tasks = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            tasks.Add(await CreateTaskAsync("t" + i));
            await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = tasks[^1], ["queue"] = queue });
        }
        async Task<string[]> Order() => (await Api.OkAsync("queues.get_by_id", new JsonObject { ["queue"] = queue }))["queue"]!["entries"]!.AsArray()
            .Select(e => tasks.IndexOf(e!["task"]!.GetValue<string>()).ToString()).ToArray();
        Assert.Equal(["0", "1", "2", "3"], await Order());
        await Api.OkAsync("queues.move_task_to_front", new JsonObject { ["queue"] = queue, ["task"] = tasks[3] });
        Assert.Equal(["3", "0", "1", "2"], await Order());
        await Api.OkAsync("queues.move_task_backward", new JsonObject { ["queue"] = queue, ["task"] = tasks[3], ["count"] = 2 });
        Assert.Equal(["0", "1", "3", "2"], await Order());
        await Api.OkAsync("queues.move_task_forward", new JsonObject { ["queue"] = queue, ["task"] = tasks[2] });
        Assert.Equal(["0", "1", "2", "3"], await Order());
        await Api.OkAsync("queues.move_task_to_back", new JsonObject { ["queue"] = queue, ["task"] = tasks[0] });
        Assert.Equal(["1", "2", "3", "0"], await Order());
        Assert.Equal(tasks[1], (await Api.OkAsync("queues.peek_task", new JsonObject { ["queue"] = queue }))["task"]!.GetValue<string>());

        await Api.OkAsync("queues.update", new JsonObject { ["queue"] = queue, ["name"] = "gpu-large" });
        Assert.Single((await Api.OkAsync("queues.get_all", new JsonObject { ["name"] = "^gpu-large$" }))["queues"]!.AsArray());
        Assert.Equal((400, 702), await StatusOf(Api.CallAsync("queues.delete", new JsonObject { ["queue"] = queue })));
        await Api.OkAsync("queues.delete", new JsonObject { ["queue"] = queue, ["force"] = true });
        Assert.Equal("created", (await GetTaskAsync(tasks[0]))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_next_task_pops_in_order_and_answers_empty_data_when_drained()
    {
        var queue = (await Api.OkAsync("queues.create", new JsonObject { ["name"] = "q" }))["id"]!.GetValue<string>();
        var first = await CreateTaskAsync("first");
        var second = await CreateTaskAsync("second");
        await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = first, ["queue"] = queue });
        await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = second, ["queue"] = queue });
        var popped = await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue, ["get_task_info"] = true });
        Assert.Equal(first, popped["entry"]!["task"]!.GetValue<string>());
        Assert.NotNull(popped["task_info"]!["user"]);
        Assert.Equal("queued", (await GetTaskAsync(first))["status"]!.GetValue<string>());
        Assert.Equal(second, (await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue }))["entry"]!["task"]!.GetValue<string>());
        Assert.Equal("{}", (await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue })).ToJsonString());
    }

    [Fact]
    public async Task Get_next_task_with_wait_hands_over_a_task_enqueued_while_waiting()
    {
        var queue = (await Api.OkAsync("queues.create", new JsonObject { ["name"] = "long-poll" }))["id"]!.GetValue<string>();
        var task = await CreateTaskAsync("late");
        var waiting = Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue, ["wait"] = 30 });
        await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = task, ["queue"] = queue });
        Assert.Equal(task, (await waiting)["entry"]!["task"]!.GetValue<string>());
        Assert.Equal("{}", (await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue, ["wait"] = 1 })).ToJsonString());
    }

    [Fact]
    public async Task Thirty_two_concurrent_callers_draining_1000_entries_get_each_task_exactly_once()
    {
        var queue = (await Api.OkAsync("queues.create", new JsonObject { ["name"] = "drain" }))["id"]!.GetValue<string>();
        var entries = Server.Server.Stores.QueueEntries;
        var tasks = Enumerable.Range(0, 1000).Select(i => $"t{i:D4}").ToList();
        // The entries are made through the store so the test spends its time on the pops; tasks need docs for get_next_task.
        var docs = Server.Server.Stores.Docs;
        foreach (var id in tasks)
        {
            await docs.InsertAsync(Collection.Tasks, id, new JsonObject { ["id"] = id, ["name"] = id, ["status"] = "queued" });
            await entries.AddAsync(queue, id, "2026-01-01T00:00:00.000000+00:00");
        }
        var got = new ConcurrentBag<string>();
        var workers = Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            using var client = Server.ClientWithToken(Api.Token);
            while (true)
            {
                var reply = await client.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = queue });
                if (reply["entry"] is not JsonObject entry)
                    return;
                got.Add(entry["task"]!.GetValue<string>());
            }
        }));
        await Task.WhenAll(workers);
        Assert.Equal(1000, got.Count);
        Assert.Equal(tasks, got.Order(StringComparer.Ordinal));
    }

    private static async Task<(int, int)> StatusOf(Task<Reply> call)
    {
        var reply = await call;
        return (reply.Status, reply.Subcode);
    }
}

public sealed class QueuesTestsOnSqlite() : QueuesTests("sqlite");

public sealed class QueuesTestsOnPostgres() : QueuesTests("postgres");
