using System.Diagnostics;
using Slipway.Client;
using Slipway.Client.Tracking;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// Slipway.Client's Experiment.Log.Scalar in a training loop: 10,000,000 calls (10 series × 1,000,000
/// iterations) against an in-process server, every value checked on the server afterwards. The figure is the
/// loop's wall time per call (the cost the training code sees, amortised); beside it, the same loop storing into a
/// preallocated array (the floor of any in-memory reporting), and the time until the server holds every point.
/// </summary>
public static class ReportScenario
{
    private const int Series = 10;

    public static async Task RunAsync(BenchContext ctx)
    {
        var calls = ctx.Quick ? 1_000_000 : 10_000_000;
        var iterations = calls / Series;
        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        var admin = server.Server.NewAdmin!;
        using var client = new SlipwayClient(new ClientOptions
        {
            ApiServer = server.ApiUrl, FilesServer = server.Server.FilesUrl, AccessKey = admin.AccessKey, SecretKey = admin.SecretKey,
        });
        var names = Enumerable.Range(0, Series).Select(i => $"series {i}").ToArray();

        // Baseline: the same loop writing into a preallocated array.
        var floor = new double[calls];
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
            for (var s = 0; s < Series; s++)
                floor[(i * Series) + s] = 1.0 / (i + 1) + s;
        var floorNs = sw.Elapsed.TotalNanoseconds / calls;
        GC.KeepAlive(floor);
        floor = null;
        GC.Collect();

        await using var run = await Experiment.StartAsync(new ExperimentOptions
        {
            Project = "report-bench", Name = "ten million scalars", Client = client,
            HandleProcessExit = false, CaptureConsole = false, CaptureArguments = false, CaptureGit = false, MonitorInterval = null,
        });
        // Warm-up: JIT and the first segments.
        for (var i = 0; i < 10_000; i++)
            run.Log.Scalar("warmup", "w", i, i);
        await run.FlushAsync();

        Console.WriteLine($"-- {Fmt.N(calls)} calls: {Series} series × {Fmt.N(iterations)} iterations");
        var cpu = new CpuSampler();
        sw.Restart();
        for (var i = 0; i < iterations; i++)
            for (var s = 0; s < Series; s++)
                run.Log.Scalar("loss", names[s], 1.0 / (i + 1) + s, i);
        var loop = sw.Elapsed;
        await run.FlushAsync();
        var delivered = sw.Elapsed;
        var cpuUse = CpuSampler.Describe(cpu.Stop()) + "; " + cpu.Gc();
        await run.CompleteAsync();

        var stored = (await server.Server.Stores.Events.GetSeriesAsync([run.Id])).Where(s => s.Metric == "loss").Sum(s => s.Count);
        var perCallNs = loop.TotalNanoseconds / calls;
        Console.WriteLine($"   loop {loop.TotalSeconds:0.00} s ({perCallNs:0.0} ns/call), all on the server after {delivered.TotalSeconds:0.0} s, stored {Fmt.N(stored)}; {cpuUse}");
        var all = stored == calls;
        ctx.Results.Add(new Row("report", "SQLite", $"Log.Scalar per call in the loop, {Fmt.N(calls)} calls", $"{perCallNs:0.0} ns",
            $"{floorNs:0.0} ns (store into an array)", Fmt.Ratio(perCallNs / floorNs), "< 1 µs, every value on the server", perCallNs < 1000 && all,
            $"{Fmt.N(stored)} of {Fmt.N(calls)} values stored; all delivered {delivered.TotalSeconds:0.0} s after the loop started " +
            $"({Fmt.Rate(calls / delivered.TotalSeconds)} end to end, client and server on the same cores); {cpuUse}"));

        // Diagnostic: the call alone, with the sender held back until the loop ends (no lock or CPU contention).
        await using var quiet = await Experiment.StartAsync(new ExperimentOptions
        {
            Project = "report-bench", Name = "sender held back", Client = client, FlushInterval = TimeSpan.FromHours(1),
            HandleProcessExit = false, CaptureConsole = false, CaptureArguments = false, CaptureGit = false, MonitorInterval = null,
        });
        var quietCalls = Math.Min(calls, 2_000_000);
        sw.Restart();
        for (var i = 0; i < quietCalls / Series; i++)
            for (var s = 0; s < Series; s++)
                quiet.Log.Scalar("loss", names[s], i, i);
        var quietNs = sw.Elapsed.TotalNanoseconds / quietCalls;
        await quiet.CompleteAsync();
        ctx.Results.Add(new Row("report", "SQLite", $"diagnostic: Log.Scalar per call with nothing being sent meanwhile, {Fmt.N(quietCalls)} calls",
            $"{quietNs:0.0} ns", $"{floorNs:0.0} ns (store into an array)", Fmt.Ratio(quietNs / floorNs), "-", null));
    }
}
