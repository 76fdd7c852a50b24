using System.Text.Json.Nodes;
using Slipway.TestSupport.Agents;

namespace Slipway.Agent.Tests;

/// <summary>Which task a slot takes, what it tells the task process about its GPUs, and what the worker reports.</summary>
public sealed class AgentSchedulingTests
{
    [Fact]
    public async Task Queues_are_served_in_the_order_given()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("high");
        await client.Queues.CreateAsync("low");
        var low = await TestTasks.CreateAsync(client, "low", TestTasks.Shell("echo low\n"), "low");
        var high = await TestTasks.CreateAsync(client, "high", TestTasks.Shell("echo high\n"), "high");
        var options = RunningAgent.DefaultOptions("high");
        options.Queues.Add("low");

        await using var agent = new RunningAgent(server, options);
        var lowTask = await TestTasks.WaitFinishedAsync(client, low);
        var highTask = await TestTasks.WaitFinishedAsync(client, high);

        Assert.Equal("completed", lowTask.Status);
        Assert.Equal("completed", highTask.Status);
        Assert.True(highTask.Started < lowTask.Started, $"high started {highTask.Started:O}, low {lowTask.Started:O}");
    }

    [Fact]
    public async Task Each_slot_gets_its_share_of_the_gpus_and_reports_machine_stats()
    {
        await using var server = await TestServer.StartAsync();
        using var client = server.NewClient();
        await client.Queues.CreateAsync("q");
        var options = RunningAgent.DefaultOptions("q");
        options.Slots = 2;
        options.Gpus.AddRange(["0", "1"]);
        var gate = Path.Combine(Path.GetTempPath(), "slipway-gpu-gate-" + Guid.NewGuid().ToString("N"));
        await using var agent = new RunningAgent(server, options);
        // Both tasks wait for the gate, so each slot holds one.
        var script = $"echo \"gpus=$CUDA_VISIBLE_DEVICES worker=$CLEARML_WORKER_ID\"\nwhile [ ! -e {gate} ]; do sleep 0.05; done\n";
        var a = await TestTasks.CreateAsync(client, "a", TestTasks.Shell(script), "q");
        var b = await TestTasks.CreateAsync(client, "b", TestTasks.Shell(script), "q");
        await TestTasks.WaitUntilAsync(client, a, t => t.Status == "in_progress");
        await TestTasks.WaitUntilAsync(client, b, t => t.Status == "in_progress");
        JsonArray? workers = null;
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            // Reports come every second; wait for one that carries the stats of both busy slots.
            while (true)
            {
                workers = (await client.CallAsync("workers.get_all", new JsonObject()))["workers"] as JsonArray;
                var busy = workers!.OfType<JsonObject>().Where(w => w["task"] is JsonObject && w["id"]!.GetValue<string>().StartsWith(options.WorkerPrefix, StringComparison.Ordinal)).ToList();
                if (busy.Count == 2)
                    break;
                if (deadline.IsCancellationRequested)
                    Assert.Fail("no report with both busy slots and their stats: " + workers?.ToJsonString());
                await Task.Delay(100, CancellationToken.None);
            }
        }
        // The machine stats of both slots' reports (every second) are in the worker statistics.
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var stats = await TestTasks.WaitForAsync(async () => (await client.CallAsync("workers.get_stats", new JsonObject
        {
            ["worker_ids"] = new JsonArray($"{options.WorkerPrefix}:gpu0", $"{options.WorkerPrefix}:gpu1"),
            ["from_date"] = now - 60, ["to_date"] = now + 60, ["interval"] = 120,
            ["items"] = new JsonArray(new JsonObject { ["key"] = "memory_used", ["category"] = "max" }),
        }))["workers"] as JsonArray ?? [], workers => workers.Count == 2 && workers.All(w => w?["metrics"] is JsonArray { Count: > 0 }));
        await File.WriteAllTextAsync(gate, "go");
        foreach (var worker in stats)
        {
            var memory = worker!["metrics"]![0]!["stats"]![0]!["values"]![0]!.GetValue<double>();
            Assert.True(memory > 0, worker.ToJsonString());
        }

        Assert.Equal("completed", (await TestTasks.WaitFinishedAsync(client, a)).Status);
        Assert.Equal("completed", (await TestTasks.WaitFinishedAsync(client, b)).Status);
        var lines = new[] { await TestTasks.ConsoleAsync(client, a), await TestTasks.ConsoleAsync(client, b) };
        Assert.Contains(lines, c => c.Contains($"gpus=0 worker={options.WorkerPrefix}:gpu0", StringComparison.Ordinal));
        Assert.Contains(lines, c => c.Contains($"gpus=1 worker={options.WorkerPrefix}:gpu1", StringComparison.Ordinal));
        File.Delete(gate);
    }

    [Theory]
    [InlineData(new[] { "0", "1", "2", "3" }, 2, 0, "0,1")]
    [InlineData(new[] { "0", "1", "2", "3" }, 2, 1, "2,3")]
    [InlineData(new[] { "0", "1" }, 4, 3, "1")]
    [InlineData(new string[0], 2, 1, "")]
    public void Gpus_are_shared_out_among_slots(string[] gpus, int slots, int slot, string expected)
    {
        var options = new AgentOptions { Slots = slots };
        options.Gpus.AddRange(gpus);
        Assert.Equal(expected, string.Join(',', options.GpusOf(slot)));
    }
}
