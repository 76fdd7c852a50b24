using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Domain.Events;
using Slipway.Server.Storage;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// events.scalar_metrics_iter_histogram {task, samples: 2000} on a task whose one series has 10,000,000 points,
/// beside the same call on a 10,000-point series: the downsampling pyramid should make the cost independent of
/// the length. The long series is written through the event store in 50,000-point chunks (the path that keeps
/// the pyramid), which is also timed.
/// </summary>
public static class HistogramScenario
{
    private const int Chunk = 50_000;

    public static async Task RunAsync(BenchContext ctx)
    {
        var bigPoints = ctx.Points ?? (ctx.Quick ? 1_000_000 : 10_000_000);
        const int smallPoints = 10_000;
        var warmup = ctx.Quick ? 5 : 10;
        var calls = ctx.Quick ? 20 : 50;
        foreach (var engine in ctx.EnginesFor("histogram"))
        {
            var engineName = BenchContext.Name(engine);
            await using var server = await BenchServer.StartAsync(engine, ctx.Postgres);
            using var client = await server.LoginAsync(maxConnections: 1);
            var project = (await client.CallAsync("projects.create", new JsonObject { ["name"] = "histogram-bench" }))["id"]!.GetValue<string>();
            async Task<string> NewTaskAsync(string name) =>
                (await client.CallAsync("tasks.create", new JsonObject { ["name"] = name, ["type"] = "training", ["project"] = project }))["id"]!.GetValue<string>();
            var big = await NewTaskAsync("ten million points");
            var small = await NewTaskAsync("ten thousand points");

            var events = server.Server.Stores.Events;
            Console.WriteLine($"-- {engineName}: writing {Fmt.N(bigPoints)} points through the event store in {Fmt.N(Chunk)}-point chunks");
            var ingestStart = Stopwatch.GetTimestamp();
            await WriteSeriesAsync(events, big, bigPoints, report: true);
            var ingestSeconds = Stopwatch.GetElapsedTime(ingestStart).TotalSeconds;
            await WriteSeriesAsync(events, small, smallPoints, report: false);
            Console.WriteLine($"   {ingestSeconds:0.0} s ({Fmt.Rate(bigPoints / ingestSeconds)})");

            var sink = new byte[1024 * 1024];
            byte[] Body(string task) => Encoding.UTF8.GetBytes(new JsonObject { ["task"] = task, ["samples"] = 2000 }.ToJsonString());
            var bigBody = Body(big);
            var smallBody = Body(small);

            // Check the answer once: one series, at most 2,000 points, spanning the whole range.
            var answer = await client.CallAsync("events.scalar_metrics_iter_histogram", JsonNode.Parse(bigBody)!.AsObject());
            var x = answer["loss"]!["train"]!["x"]!.AsArray();
            if (x.Count is 0 or > 2000 || x[^1]!.GetValue<long>() < bigPoints - 100_000)
                throw new InvalidOperationException($"unexpected histogram: {x.Count} points, last x {x[^1]}");
            var smallAnswer = await client.CallAsync("events.scalar_metrics_iter_histogram", JsonNode.Parse(smallBody)!.AsObject());
            var smallX = smallAnswer["loss"]!["train"]!["x"]!.AsArray().Count;

            var bigLat = new Latencies(calls);
            var smallLat = new Latencies(calls);
            for (var i = 0; i < warmup; i++)
            {
                await client.TimedPostAsync("events.scalar_metrics_iter_histogram", bigBody, sink);
                await client.TimedPostAsync("events.scalar_metrics_iter_histogram", smallBody, sink);
            }
            var cpu = new CpuSampler();
            for (var i = 0; i < calls; i++)
            {
                bigLat.Add(await client.TimedPostAsync("events.scalar_metrics_iter_histogram", bigBody, sink));
                smallLat.Add(await client.TimedPostAsync("events.scalar_metrics_iter_histogram", smallBody, sink));
            }

            var cpuUse = CpuSampler.Describe(cpu.Stop()) + "; " + cpu.Gc();
            // The store side alone: series lookup + pyramid read.
            var histogram = new ScalarHistogram(events);
            var store = new Latencies(calls);
            for (var i = 0; i < calls; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var series = await events.GetSeriesAsync([big]);
                _ = await histogram.PointsAsync(series[0], 2000, CancellationToken.None);
                store.Add(Stopwatch.GetTimestamp() - start);
            }

            ctx.Results.Add(new Row("histogram", engineName, $"scalar_metrics_iter_histogram p50, {Fmt.N(bigPoints)}-point series ({x.Count} points back)",
                Fmt.Ms(bigLat.P50), Fmt.Ms(smallLat.P50) + $" ({Fmt.N(smallPoints)} pts)", Fmt.Ratio(bigLat.P50 / smallLat.P50), "< 50 ms", bigLat.P50 < 50));
            ctx.Results.Add(new Row("histogram", engineName, "scalar_metrics_iter_histogram p99",
                Fmt.Ms(bigLat.P99), Fmt.Ms(smallLat.P99) + $" ({Fmt.N(smallPoints)} pts)", Fmt.Ratio(bigLat.P99 / smallLat.P99), "< 50 ms", bigLat.P99 < 50,
                $"{calls} calls each; the {Fmt.N(smallPoints)}-point series answers {smallX} points; {cpuUse}"));
            ctx.Results.Add(new Row("histogram", engineName, "diagnostic: store only (GetSeriesAsync + ScalarHistogram.PointsAsync) p50 / p99",
                $"{Fmt.Ms(store.P50)} / {Fmt.Ms(store.P99)}", "-", "-", "-", null));
            ctx.Results.Add(new Row("histogram", engineName, $"diagnostic: writing the {Fmt.N(bigPoints)}-point series via IEventStore.AddAsync ({Fmt.N(Chunk)}-point chunks)",
                Fmt.Rate(bigPoints / ingestSeconds), "-", "-", "-", null, $"{ingestSeconds:0.0} s"));
        }
    }

    private static async Task WriteSeriesAsync(IEventStore events, string task, int points, bool report)
    {
        var random = new Random(7);
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var chunk = new List<ScalarEvent>(Chunk);
        var lastReport = Stopwatch.GetTimestamp();
        for (var start = 0; start < points; start += Chunk)
        {
            chunk.Clear();
            for (var iter = start; iter < Math.Min(points, start + Chunk); iter++)
            {
                // A decaying loss with noise and an occasional spike, so min/max buckets matter.
                var value = 2.0 * Math.Exp(-iter / (points / 5.0)) + random.NextDouble() * 0.1 + (random.Next(10_000) == 0 ? 5 : 0);
                chunk.Add(new ScalarEvent(task, "loss", "train", new ScalarPoint(iter, value, ts + iter / 100)));
            }
            await events.AddAsync(chunk, []);
            if (report && Stopwatch.GetElapsedTime(lastReport).TotalSeconds > 10)
            {
                Console.WriteLine($"   {Fmt.N(start + chunk.Count)} points");
                lastReport = Stopwatch.GetTimestamp();
            }
        }
    }
}
