using System.Text.Json.Nodes;
using Slipway.Autoscaler.Tests.Infrastructure;
using Slipway.Client;
using Slipway.Commands;

namespace Slipway.Autoscaler.Tests;

/// <summary>One-machine setups: `slipway server` runs the autoscaler its settings name, in its own process.</summary>
public sealed class ServerHostedAutoscalerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "slipway-hosted-autoscaler-" + Guid.NewGuid().ToString("N")[..12]);

    public ServerHostedAutoscalerTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task The_server_starts_an_agent_for_a_queued_task_and_stops_it_when_idle()
    {
        var work = Path.Combine(_dir, "instances");
        var autoscaler = Path.Combine(_dir, "autoscaler.json");
        File.WriteAllText(autoscaler, new JsonObject
        {
            ["name"] = "insrv",
            ["queues"] = new JsonObject { ["default"] = new JsonArray("cpu") },
            ["resources"] = new JsonObject { ["cpu"] = new JsonObject { ["provider"] = "local", ["max_instances"] = 1 } },
            ["poll_interval_seconds"] = 0.25, ["idle_timeout_seconds"] = 2, ["drain_recheck_seconds"] = 0.5,
            ["local"] = new JsonObject
            {
                ["command"] = new JsonArray("dotnet", Path.Combine(AppContext.BaseDirectory, "slipway.dll")),
                ["agent_arguments"] = new JsonArray("--ping", "1"),
                ["work_directory"] = work,
            },
        }.ToJsonString());
        var settings = Path.Combine(_dir, "settings.json");
        File.WriteAllText(settings, new JsonObject { ["autoscaler"] = autoscaler }.ToJsonString());
        var data = Path.Combine(_dir, "data");
        using var output = new StringWriter();
        using var error = new StringWriter();
        var syncOut = TextWriter.Synchronized(output);
        var syncErr = TextWriter.Synchronized(error);
        using var stop = new CancellationTokenSource();
        var run = Cli.RunAsync(["server", "--data", data, "--host", "127.0.0.1", "--api-port", "0", "--web-port", "0", "--files-port", "0", "--config", settings],
            syncOut, syncErr, stop.Token);
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(Read(syncOut, output)), o => o.Contains("Autoscaler insrv: serving default", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), "the autoscaler started in the server");
            using var client = new SlipwayClient(ClientCommand.LoadOptions(Path.Combine(data, "clearml.conf")));
            var id = (await client.CallAsync("tasks.create", new JsonObject
            {
                ["name"] = "hosted", ["type"] = "training",
                ["script"] = new JsonObject { ["binary"] = "bash", ["entry_point"] = "t.sh", ["diff"] = "echo hosted\n" },
            }))["id"]!.GetValue<string>();
            await client.Tasks.EnqueueAsync(id, "default");
            await Poll.UntilAsync(async () => (await client.Tasks.GetAsync(id)).Status, s => s == "completed", TimeSpan.FromSeconds(90), "task completed");
            var events = await Poll.UntilAsync(async () => (await client.CallAsync("autoscaler.get_events", new JsonObject { ["scaler"] = "insrv" }))["events"]!.AsArray(),
                e => e.Any(x => x!["action"]!.GetValue<string>() == "terminate"), TimeSpan.FromSeconds(60), "idle agent stopped");
            Assert.Single(events, e => e!["action"]!.GetValue<string>() == "launch");
            Assert.Empty(Directory.EnumerateFiles(work, "*.json"));
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
        Assert.DoesNotContain("does not run", Read(syncErr, error), StringComparison.Ordinal);
    }

    /// <summary>What the server has written so far: the synchronized wrapper locks itself around each write.</summary>
    private static string Read(TextWriter synchronized, StringWriter writer)
    {
        lock (synchronized)
            return writer.ToString();
    }
}
