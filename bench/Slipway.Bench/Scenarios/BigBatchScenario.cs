using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// Memory under large events.add_batch bodies: 4 clients at once each post 60 MB json-lines scalar batches to
/// the built executable (a child process, so that its resident memory is the server's alone), while another
/// client calls tasks.get_all (page of 20 over 200 tasks) in a loop. Figures: the server's peak VmRSS / VmHWM and
/// that client's p50 / p99 during the batches, beside its p99 on the idle server before them.
/// </summary>
public static partial class BigBatchScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var root = StartupScenario.RepoRoot();
        var dll = Path.Combine(root, "src", "Slipway", "bin", "Release", "net10.0", "slipway.dll");
        if (!ctx.NoBuild)
        {
            Console.WriteLine("-- building src/Slipway in Release");
            await StartupScenario.RunToExitAsync("dotnet", ["build", Path.Combine(root, "src", "Slipway", "Slipway.csproj"), "-c", "Release", "--nologo", "-v", "q"], TimeSpan.FromMinutes(5));
        }
        foreach (var engine in ctx.EnginesFor("big-batch"))
            await RunOnAsync(ctx, engine, dll);
    }

    private static async Task RunOnAsync(BenchContext ctx, Engine engine, string dll)
    {
        var engineName = BenchContext.Name(engine);
        var senders = 4;
        var batchesEach = ctx.Quick ? 1 : 2;
        var batchBytes = (ctx.Quick ? 20 : 60) * 1024 * 1024;
        var (db, drop) = engine == Engine.Postgres ? await ctx.Postgres.CreateDatabaseAsync() : ("", null);
        var data = Path.Combine(Path.GetTempPath(), "slipway-bench-batch-" + Guid.NewGuid().ToString("N")[..8]);
        var port = PostgresProvider.FreePort();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "server", "--data", data, "--host", "127.0.0.1", "--api-port", port.ToString(CultureInfo.InvariantCulture), "--web-port", "0", "--files-port", "0" })
            psi.ArgumentList.Add(a);
        if (db.Length > 0)
        {
            psi.ArgumentList.Add("--db");
            psi.ArgumentList.Add(db);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var api = new Uri($"http://127.0.0.1:{port}/");
            await WaitForPingAsync(api, process);
            var conf = await File.ReadAllTextAsync(Path.Combine(data, "clearml.conf"));
            using var client = await ApiClient.LoginAsync(api, AccessKey().Match(conf).Groups[1].Value, SecretKey().Match(conf).Groups[1].Value, maxConnections: senders + 2);
            var tasks = new List<string>();
            for (var i = 0; i < 200; i++)
                tasks.Add((await client.CallAsync("tasks.create", new JsonObject { ["name"] = $"batch-bench-{i}", ["type"] = "training" }))["id"]!.GetValue<string>());
            var batch = Batch(tasks[0], batchBytes);
            var events = batch.Span.Count((byte)'\n');
            Console.WriteLine($"-- {engineName}: {senders} clients × {batchesEach} batches of {Fmt.Mb(batch.Length)} ({Fmt.N(events)} scalar events each); RSS before: {Fmt.Mb(StartupScenario.StatusBytes(process.Id, "VmRSS:"))}");

            var sink = new byte[256 * 1024];
            var getAll = Encoding.UTF8.GetBytes(new JsonObject { ["page"] = 0, ["page_size"] = 20, ["order_by"] = new JsonArray("-last_update") }.ToJsonString());
            var idle = new Latencies(2_000);
            for (var i = 0; i < 2_000; i++)
                idle.Add(await client.TimedPostAsync("tasks.get_all", getAll, sink));

            var peakRss = 0.0;
            using var stop = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    peakRss = Math.Max(peakRss, StartupScenario.StatusBytes(process.Id, "VmRSS:"));
                    await Task.Delay(20);
                }
            });
            var busy = new Latencies(100_000);
            var sw = Stopwatch.StartNew();
            var sending = Enumerable.Range(0, senders).Select(_ => Task.Run(async () =>
            {
                for (var b = 0; b < batchesEach; b++)
                {
                    var reply = await client.PostLinesAsync("events.add_batch", batch);
                    if (reply["added"]!.GetValue<int>() != events)
                        throw new InvalidOperationException($"a batch added {reply["added"]} of {events} events");
                }
            })).ToList();
            var all = Task.WhenAll(sending);
            while (!all.IsCompleted)
                busy.Add(await client.TimedPostAsync("tasks.get_all", getAll, sink));
            await all;
            var elapsed = sw.Elapsed;
            await stop.CancelAsync();
            await sampler;
            var hwm = StartupScenario.StatusBytes(process.Id, "VmHWM:");

            var total = (double)senders * batchesEach * batch.Length;
            ctx.Results.Add(new Row("big-batch", engineName, $"server peak RSS, {senders} clients posting {Fmt.Mb(batch.Length)} batches at once",
                Fmt.Mb(peakRss), "-", "-", "< 1 GB", peakRss < 1e9,
                $"VmHWM {Fmt.Mb(hwm)}; {senders * batchesEach} batches ({Fmt.Mb(total)}) in {elapsed.TotalSeconds:0.0} s, {Fmt.Rate(events * senders * batchesEach / elapsed.TotalSeconds)}"));
            ctx.Results.Add(new Row("big-batch", engineName, "another client's tasks.get_all p99 meanwhile",
                Fmt.Ms(busy.P99), Fmt.Ms(idle.P99) + " (idle server)", Fmt.Ratio(busy.P99 / idle.P99), "p99 < 50 ms", busy.P99 < 50,
                $"p50 {Fmt.Ms(busy.P50)}, max {Fmt.Ms(busy.Max)} over {Fmt.N(busy.Count)} calls; idle p50 {Fmt.Ms(idle.P50)}"));
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            BenchServer.TryDelete(data);
            if (drop is not null)
                await drop();
        }
    }

    /// <summary>Scalar events for one task, 10 series, as the SDK's reporter writes them, up to the given size.</summary>
    private static ReadOnlyMemory<byte> Batch(string task, int bytes)
    {
        var sb = new StringBuilder(bytes + 1024);
        var ts = 1_700_000_000_000L;
        for (var iter = 0; sb.Length < bytes - 400; iter++)
        {
            for (var s = 0; s < 10 && sb.Length < bytes - 400; s++)
            {
                sb.Append(CultureInfo.InvariantCulture,
                    $$"""{"type":"training_stats_scalar","task":"{{task}}","iter":{{iter}},"metric":"metric_{{s / 2}}","variant":"variant_{{s % 2}}","value":{{Math.Sin(iter * 0.001 + s):R}},"timestamp":{{ts + iter}},"allow_locked":false,"model_event":false}""");
                sb.Append('\n');
            }
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static async Task WaitForPingAsync(Uri api, Process process)
    {
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"slipway exited with {process.ExitCode} before answering");
            if (sw.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException("slipway did not answer /debug.ping within 60 s");
            try
            {
                using var response = await http.GetAsync("debug.ping");
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(20);
        }
    }

    [GeneratedRegex("access_key\"?\\s*[:=]\\s*\"([^\"]+)\"")]
    private static partial Regex AccessKey();

    [GeneratedRegex("secret_key\"?\\s*[:=]\\s*\"([^\"]+)\"")]
    private static partial Regex SecretKey();
}
