using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Server.Storage;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// The web UI's scalars tab in the machine's Chromium: from navigating to <c>experiments/{id}/scalars</c> until every
/// one of the task's 20 charts holds its points (interactive), for a task with 20 metrics × 1,000,000 points each,
/// beside a task with 20 metrics × 1,000 points in the same server. The points go in through the event store.
/// </summary>
public static class WebScalarsScenario
{
    private const int Metrics = 20;
    private const int Chunk = 50_000;

    public static async Task RunAsync(BenchContext ctx)
    {
        var bigPoints = ctx.Quick ? 100_000 : 1_000_000;
        var rounds = ctx.Quick ? 3 : 10;
        foreach (var engine in ctx.EnginesFor("web-scalars"))
        {
            var engineName = BenchContext.Name(engine);
            await using var server = await BenchServer.StartAsync(engine, ctx.Postgres);
            using var client = await server.LoginAsync(maxConnections: 1);
            var project = (await client.CallAsync("projects.create", new JsonObject { ["name"] = "web-scalars-bench" }))["id"]!.GetValue<string>();
            async Task<string> NewTaskAsync(string name) =>
                (await client.CallAsync("tasks.create", new JsonObject { ["name"] = name, ["type"] = "training", ["project"] = project }))["id"]!.GetValue<string>();
            var big = await NewTaskAsync("20 metrics x 1M points");
            var small = await NewTaskAsync("20 metrics x 1k points");

            Console.WriteLine($"-- {engineName}: writing {Metrics} × {Fmt.N(bigPoints)} points through the event store");
            var ingest = Stopwatch.StartNew();
            await WriteAsync(server.Server.Stores.Events, big, bigPoints);
            await WriteAsync(server.Server.Stores.Events, small, 1_000);
            Console.WriteLine($"   {ingest.Elapsed.TotalSeconds:0.0} s");

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Environment.GetEnvironmentVariable("SLIPWAY_TEST_CHROMIUM") ?? "/usr/bin/chromium",
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions
            {
                BaseURL = server.Server.WebUrl.ToString(),
                ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
            });
            context.SetDefaultTimeout(60_000);
            var page = await context.NewPageAsync();
            await page.GotoAsync("login");
            await page.FillAsync("input[name=access_key]", server.Server.NewAdmin!.AccessKey);
            await page.FillAsync("input[name=secret_key]", server.Server.NewAdmin!.SecretKey);
            await page.ClickAsync("button[type=submit]");
            await page.WaitForSelectorAsync("nav.sidebar");

            const string drawn = """
                n => { const p = [...document.querySelectorAll('.chart .plot')];
                       return p.length === n && p.every(e => window.slipway.pointCount(e) > 0); }
                """;
            var loaded = new Latencies(rounds * 2);
            var interactive = new Latencies(rounds * 2);
            async Task<(Latencies, long)> MeasureAsync(string task)
            {
                var latencies = new Latencies(rounds);
                long points = 0;
                for (var k = 0; k < rounds + 1; k++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await page.GotoAsync($"experiments/{task}/scalars");
                    var load = Stopwatch.GetTimestamp() - start;
                    await page.WaitForSelectorAsync("[data-interactive]", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached });
                    var circuit = Stopwatch.GetTimestamp() - start;
                    await page.WaitForFunctionAsync(drawn, Metrics, new PageWaitForFunctionOptions { PollingInterval = 5 });
                    var elapsed = Stopwatch.GetTimestamp() - start;
                    if (k > 0)
                    {
                        latencies.Add(elapsed);
                        loaded.Add(load);
                        interactive.Add(circuit);
                    }
                    points = await page.EvaluateAsync<long>("() => [...document.querySelectorAll('.chart .plot')].reduce((n, e) => n + window.slipway.pointCount(e), 0)");
                }
                return (latencies, points);
            }

            var (bigTimes, bigShown) = await MeasureAsync(big);
            var (smallTimes, smallShown) = await MeasureAsync(small);
            var what = $"{Metrics} metrics × {Fmt.N(bigPoints)} points";
            ctx.Results.Add(new Row("web-scalars", engineName, $"scalars tab interactive (navigation → all {Metrics} charts drawn), p50 ({what})",
                Fmt.Ms(bigTimes.P50), Fmt.Ms(smallTimes.P50) + $" ({Metrics} × 1,000 points)", Fmt.Ratio(bigTimes.P50 / smallTimes.P50), "< 1 s", bigTimes.P50 < 1000));
            ctx.Results.Add(new Row("web-scalars", engineName, "scalars tab interactive, slowest round",
                Fmt.Ms(bigTimes.Max), Fmt.Ms(smallTimes.Max), Fmt.Ratio(bigTimes.Max / smallTimes.Max), "< 1 s", bigTimes.Max < 1000,
                $"{rounds} rounds after a warm-up; points drawn: {Fmt.N(bigShown)} of {Fmt.N((long)Metrics * bigPoints)} (downsampled) vs {Fmt.N(smallShown)}; ingest {ingest.Elapsed.TotalSeconds:0} s"));
            ctx.Results.Add(new Row("web-scalars", engineName, "diagnostic: page loaded / circuit up (both tasks), p50",
                $"{Fmt.Ms(loaded.P50)} / {Fmt.Ms(interactive.P50)}", "-", "-", "-", null));
        }
    }

    private static async Task WriteAsync(IEventStore events, string task, int points)
    {
        var random = new Random(11);
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var chunk = new List<ScalarEvent>(Chunk);
        for (var m = 0; m < Metrics; m++)
        {
            for (var start = 0; start < points; start += Chunk)
            {
                chunk.Clear();
                for (var iter = start; iter < Math.Min(points, start + Chunk); iter++)
                {
                    var value = (1 + m) * Math.Exp(-iter / (points / 4.0)) + random.NextDouble() * 0.05;
                    chunk.Add(new ScalarEvent(task, $"metric {m:00}", "train", new ScalarPoint(iter, value, ts + iter)));
                }
                await events.AddAsync(chunk, []);
            }
        }
    }
}
