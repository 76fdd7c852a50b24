using System.Text.Json.Nodes;

namespace Slipway.Agent.Tests;

/// <summary>What the agent ships of a task's console: whole lines as a terminal shows them, whatever pieces they came in.</summary>
public sealed class ConsoleShipperTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_progress_bar_redrawn_over_many_flushes_arrives_as_one_line_then_the_next_line()
    {
        using var client = _server.NewClient();
        var task = (await client.CallAsync("tasks.create", new JsonObject { ["name"] = "tqdm", ["type"] = "training" }))["id"]!.GetValue<string>();
        var shipper = new ConsoleShipper(client, task, "w", TimeSpan.FromMinutes(1));
        shipper.Write("epoch 1\n");
        for (var percent = 0; percent <= 100; percent += 20)
        {
            shipper.Write($"\r{percent,3}%|{new string('#', percent / 10)}");
            Assert.True(await shipper.FlushAsync(CancellationToken.None)); // as if the flush interval passed between redraws
        }
        shipper.Write("\n");
        shipper.Write("saved");
        shipper.Write(" model\r\n");
        await shipper.DisposeAsync();
        Assert.True(await shipper.FlushAsync(CancellationToken.None));

        Assert.Equal(["epoch 1", "100%|##########", "saved model\r"], await LinesAsync(client, task));
    }

    [Fact]
    public async Task A_line_left_open_is_sent_as_it_stands_after_the_open_line_interval_and_again_when_it_ends()
    {
        using var client = _server.NewClient();
        var task = (await client.CallAsync("tasks.create", new JsonObject { ["name"] = "slow bar", ["type"] = "training" }))["id"]!.GetValue<string>();
        var shipper = new ConsoleShipper(client, task, "w", TimeSpan.FromMinutes(1), openLineInterval: TimeSpan.Zero);
        shipper.Write("\r 10%|#");
        Assert.True(await shipper.FlushAsync(CancellationToken.None));
        Assert.Equal([" 10%|#"], await LinesAsync(client, task)); // visible while it runs
        shipper.Write("\r 60%|######");
        shipper.Write("\r100%|##########");
        shipper.WriteLine("Process completed successfully"); // the agent's own line starts a line of its own
        await shipper.DisposeAsync();
        Assert.True(await shipper.FlushAsync(CancellationToken.None));

        Assert.Equal([" 10%|#", "100%|##########", "Process completed successfully"], await LinesAsync(client, task));
    }

    /// <summary>The log as the web UI lists it: each event's text split into lines.</summary>
    private static async Task<List<string>> LinesAsync(Slipway.Client.SlipwayClient client, string task)
    {
        var lines = new List<string>();
        await foreach (var entry in client.Tasks.GetConsoleAsync(task))
        {
            Assert.EndsWith("\n", entry.Message, StringComparison.Ordinal); // whole lines only
            lines.AddRange(entry.Message.TrimEnd('\n').Split('\n'));
        }
        return lines;
    }
}
