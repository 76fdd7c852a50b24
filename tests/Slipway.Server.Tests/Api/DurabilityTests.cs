using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>The real executable, killed with SIGKILL during a burst of events.add_batch, restarted on the same data.</summary>
public abstract partial class DurabilityTests(string engine) : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "slipway-kill-" + Guid.NewGuid().ToString("N")[..8]);
    private string? _database;

    public Task InitializeAsync()
    {
        if (engine == "postgres")
            _database = PostgresCluster.CreateDatabase();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task No_acknowledged_event_is_lost_when_the_server_is_killed()
    {
        var (process, api) = await StartProcessAsync();
        var conf = await File.ReadAllTextAsync(Path.Combine(_dataDir, "clearml.conf"));
        var access = AccessKey().Match(conf).Groups[1].Value;
        var secret = SecretKey().Match(conf).Groups[1].Value;
        var token = await ServerUnderTest.LoginAsync(api, access, secret);
        using var client = new ApiClient(api, token);
        var task = (await client.OkAsync("tasks.create", new JsonObject { ["name"] = "burst", ["type"] = "training" }))["id"]!.GetValue<string>();

        var acknowledged = new ConcurrentBag<long>();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            using var writer = new ApiClient(api, token);
            for (var batch = 0; batch < 100 && !stop.IsCancellationRequested; batch++)
            {
                var iters = Enumerable.Range(0, 200).Select(i => (long)(w * 1_000_000 + batch * 200 + i)).ToList();
                try
                {
                    var reply = await writer.AddBatchAsync(iters.Select(i => new JsonObject
                    {
                        ["type"] = "training_stats_scalar", ["task"] = task, ["metric"] = "m", ["variant"] = "v", ["iter"] = i, ["value"] = i,
                    }));
                    if (reply.Status == 200 && reply.Data["added"]!.GetValue<int>() == iters.Count)
                    {
                        foreach (var i in iters)
                            acknowledged.Add(i);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or InvalidOperationException)
                {
                    return;
                }
            }
        })).ToList();
        while (acknowledged.Count < 20_000 && writers.Any(w => !w.IsCompleted))
            await Task.Delay(20);
        process.Kill();
        await process.WaitForExitAsync();
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        Assert.True(acknowledged.Count >= 20_000, $"only {acknowledged.Count} events were acknowledged before the kill");

        var (restarted, api2) = await StartProcessAsync();
        try
        {
            using var after = new ApiClient(api2, await ServerUnderTest.LoginAsync(api2, access, secret));
            var stored = new HashSet<long>();
            string? scroll = null;
            while (true)
            {
                var page = await after.OkAsync("events.get_task_events", new JsonObject { ["task"] = task, ["event_type"] = "training_stats_scalar", ["batch_size"] = 10_000, ["scroll_id"] = scroll });
                var events = page["events"]!.AsArray();
                if (events.Count == 0)
                    break;
                foreach (var e in events)
                    stored.Add(e!["iter"]!.GetValue<long>());
                scroll = page["scroll_id"]!.GetValue<string>();
            }
            var lost = acknowledged.Where(i => !stored.Contains(i)).ToList();
            Assert.True(lost.Count == 0, $"{lost.Count} acknowledged events lost (of {acknowledged.Count}); first {string.Join(",", lost.Take(5))}");
        }
        finally
        {
            restarted.Kill();
            await restarted.WaitForExitAsync();
        }
    }

    private async Task<(Process, Uri)> StartProcessAsync()
    {
        var port = LoopbackPort.Free();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "slipway.dll"), "server", "--data", _dataDir, "--host", "127.0.0.1",
                     "--api-port", port.ToString(), "--web-port", "0", "--files-port", "0" })
            start.ArgumentList.Add(arg);
        if (_database is not null)
        {
            start.ArgumentList.Add("--db");
            start.ArgumentList.Add(_database);
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var api = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited)
                throw new InvalidOperationException($"server exited with {process.ExitCode}");
            try
            {
                if ((await http.GetAsync("health")).IsSuccessStatusCode && File.Exists(Path.Combine(_dataDir, "clearml.conf")))
                    return (process, api);
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(50);
        }
        process.Kill();
        throw new TimeoutException("server did not start");
    }

    public Task DisposeAsync()
    {
        if (_database is not null)
            PostgresCluster.DropDatabase(_database);
        try
        {
            Directory.Delete(_dataDir, true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }

    [GeneratedRegex("\"access_key\": \"([^\"]+)\"")]
    private static partial Regex AccessKey();

    [GeneratedRegex("\"secret_key\": \"([^\"]+)\"")]
    private static partial Regex SecretKey();
}

public sealed class DurabilityTestsOnSqlite() : DurabilityTests("sqlite");

public sealed class DurabilityTestsOnPostgres() : DurabilityTests("postgres");
