using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Serving;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// Version swaps under steady load, the way a user promotes: 16 closed-loop connections on an endpoint, then
/// <c>serving.add_version</c> of another model (which takes all the traffic once the host has it ready) and, once the new
/// version answers, <c>serving.remove_version</c> of the old one; six times in one continuous load, with a steady window
/// before each swap and after the last. Each request is counted by the version that answered it.
/// </summary>
public static class ServingSwapScenario
{
    private const string Endpoint = "swap";
    private const int Connections = 16;

    public static async Task RunAsync(BenchContext ctx)
    {
        var folder = Directory.CreateTempSubdirectory("slipway-bench-serving-swap-").FullName;
        try
        {
            await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
            var clientOptions = server.AdminClientOptions();
            using var client = new SlipwayClient(clientOptions);
            await using var host = await ServingHost.StartAsync(new ServingOptions
            {
                Port = 0, PollInterval = TimeSpan.FromMilliseconds(250), CacheFolder = Path.Combine(folder, "cache"),
            }, clientOptions, logging => logging.AddFilter(_ => false));
            var window = TimeSpan.FromSeconds(ctx.Quick ? 1.0 : 3.0);
            // Long enough for the host's hot paths to reach tier-1 JIT: after 2 s the first steady window still ran at
            // half the rate of the later ones, which flattered the ratio.
            var warmUp = TimeSpan.FromSeconds(ctx.Quick ? 0.5 : 8.0);
            var swaps = ctx.Quick ? 2 : 6;

            // The same small MLP as the serving scenario; the versions alternate between two sets of weights.
            var paths = new[] { Path.Combine(folder, "a.onnx"), Path.Combine(folder, "b.onnx") };
            await File.WriteAllBytesAsync(paths[0], new Mlp(16, 64, 4, seed: 1).ToOnnx());
            await File.WriteAllBytesAsync(paths[1], new Mlp(16, 64, 4, seed: 11).ToOnnx());
            var (endpoint, key) = await ServingScenario.DeployAsync(client, host, paths[0], Endpoint, null);
            var loadBefore = LoadAverage();

            // One continuous load through every swap: steady, swap to version 2, steady, swap to version 3, ...
            // A swap is one window (add_version until the old version is retired on the host), so pooling several
            // gives its p99 as many requests as a steady window has.
            var load = new SwapLoad(host.Url, ServingScenario.Body(16, 1), key, swaps + 1);
            var running = load.RunAsync(Connections);
            await Task.Delay(warmUp);
            var steadyWindows = new List<(long Start, long End)>();
            var swapWindows = new List<Swap>();
            for (var version = 2; version <= swaps + 1; version++)
            {
                var steadyStart = Stopwatch.GetTimestamp();
                await Task.Delay(window);
                steadyWindows.Add((steadyStart, Stopwatch.GetTimestamp()));
                var model = await client.Models.RegisterAsync(new ModelRegistration { File = paths[(version - 1) % 2], Name = $"{Endpoint}-v{version}" });

                var swapStart = Stopwatch.GetTimestamp();
                await client.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model.Id });
                var next = version;
                await WaitAsync(() => load.Answered(next) > 0, $"version {next} to answer");
                var nextAnswered = Stopwatch.GetTimestamp();
                await client.CallAsync("serving.remove_version", new JsonObject { ["endpoint"] = endpoint, ["version"] = version - 1 });
                await WaitAsync(() => !host.Watcher.Versions.Any(v => v.EndpointName == Endpoint && v.Number == next - 1), $"version {next - 1} to be retired");
                swapWindows.Add(new Swap(version, swapStart, nextAnswered, Stopwatch.GetTimestamp()));
            }
            var lastStart = Stopwatch.GetTimestamp();
            await Task.Delay(window);
            steadyWindows.Add((lastStart, Stopwatch.GetTimestamp()));
            load.Stop();
            var samples = await running;
            var loadAfter = LoadAverage();

            var steady = Window.Of(samples, steadyWindows);
            var swap = Window.Of(samples, swapWindows.Select(w => (w.Start, w.End)));
            var loading = Window.Of(samples, swapWindows.Select(w => (w.Start, w.Answered)));
            var draining = Window.Of(samples, swapWindows.Select(w => (w.Answered, w.End)));
            var failed = samples.Count(s => !s.Ok);
            // A retired version must answer nothing that started after its retirement.
            var late = samples.Count(s => s.Ok && swapWindows.Any(w => w.Version - 1 == s.Version && s.Start >= w.End));
            var perSwap = string.Join(" / ", swapWindows.Select(w => Fmt.Ms(Window.Of(samples, [(w.Start, w.End)]).Latencies.P99)));
            var perSteady = string.Join(" / ", steadyWindows.Select(w => Fmt.Ms(Window.Of(samples, [w]).Latencies.P99)));
            var durations = swapWindows.Select(w => Ms(w.End - w.Start)).Order().ToArray();
            var toAnswer = swapWindows.Select(w => Ms(w.Answered - w.Start)).Order().ToArray();

            var ratio = swap.Latencies.P99 / steady.Latencies.P99;
            ctx.Results.Add(new Row("serving-swap", "-", $"steady windows between {swaps} swaps, 16→64→4 MLP, 16 connections, V2 JSON: p99", Fmt.Ms(steady.Latencies.P99), "-", "-", "-", null,
                $"p50 {Fmt.Ms(steady.Latencies.P50)}, {Fmt.N(steady.Rate)} requests/s over {steady.Seconds:0.0} s; p99 per window {perSteady}"));
            ctx.Results.Add(new Row("serving-swap", "-", $"{swaps} swap windows (add_version → the old version retired on the host): p99", Fmt.Ms(swap.Latencies.P99), Fmt.Ms(steady.Latencies.P99) + " steady",
                Fmt.Ratio(ratio), "≤ 2×", ratio <= 2,
                $"p50 {Fmt.Ms(swap.Latencies.P50)}, max {Fmt.Ms(swap.Latencies.Max)}, {Fmt.N(swap.Rate)} requests/s over {swap.Seconds:0.0} s; p99 per swap {perSwap}; " +
                $"until the new version's first answer p99 {Fmt.Ms(loading.Latencies.P99)} ({loading.Latencies.Count} requests), then until the old one retired p99 {Fmt.Ms(draining.Latencies.P99)} ({draining.Latencies.Count})"));
            ctx.Results.Add(new Row("serving-swap", "-", "failed requests, whole run", Fmt.N(failed), "-", "-", "0", failed == 0 && late == 0,
                $"{Fmt.N(samples.Count)} requests; answers by a retired version after its retirement {late}" + load.FirstError));
            ctx.Results.Add(new Row("serving-swap", "-", "swap duration: add_version → old version retired (median)", Fmt.Ms(durations[durations.Length / 2]), "-", "-", "-", null,
                $"range {Fmt.Ms(durations[0])}–{Fmt.Ms(durations[^1])}; add_version → the new version's first answer median {Fmt.Ms(toAnswer[toAnswer.Length / 2])} " +
                $"(download, session create, warm-up); the rest is remove_version → retired, bounded by the host's 250 ms poll"));
            ctx.Results.Note($"serving-swap: /proc/loadavg before the load {loadBefore}, after {loadAfter}; load generator, server and host share the same cores in one process");
        }
        finally
        {
            BenchServer.TryDelete(folder);
        }
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static async Task WaitAsync(Func<bool> done, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!done())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException($"waited 60 s for {what}");
            await Task.Delay(2);
        }
    }

    /// <summary>One request: when it started, how long it took, whether it was answered with 200, and which version answered.</summary>
    private readonly record struct Sample(long Start, long Ticks, bool Ok, int Version);

    /// <summary>One swap to <paramref name="Version"/>: add_version, the new version's first answer, the old one retired.</summary>
    private readonly record struct Swap(int Version, long Start, long Answered, long End);

    /// <summary>The requests that started inside some windows of the run.</summary>
    private sealed class Window
    {
        private readonly Dictionary<int, int> _answered = [];

        public Latencies Latencies { get; } = new(100_000);
        public int Failed { get; private set; }
        public double Seconds { get; private init; }
        public double Rate => Latencies.Count / Seconds;

        public int Answered(int version) => _answered.GetValueOrDefault(version);

        public static Window Of(IEnumerable<Sample> samples, IEnumerable<(long Start, long End)> ranges)
        {
            var list = ranges.ToList();
            var window = new Window { Seconds = list.Sum(r => Ms(r.End - r.Start)) / 1000 };
            foreach (var s in samples.Where(s => list.Any(r => s.Start >= r.Start && s.Start < r.End)))
            {
                window.Latencies.Add(s.Ticks);
                if (!s.Ok)
                    window.Failed++;
                else
                    window._answered[s.Version] = window.Answered(s.Version) + 1;
            }
            return window;
        }
    }

    /// <summary>Closed-loop load that runs until stopped, recording every request with the version that answered.</summary>
    private sealed class SwapLoad(Uri baseUrl, byte[] body, string key, int versions)
    {
        private volatile bool _stopped;
        private readonly int[] _answered = new int[versions + 1];
        private string? _firstError;

        public string FirstError => _firstError is null ? "" : "; first failure: " + _firstError;

        public int Answered(int version) => Volatile.Read(ref _answered[version]);

        public void Stop() => _stopped = true;

        public async Task<List<Sample>> RunAsync(int connections)
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var http = new HttpClient(handler) { BaseAddress = baseUrl };
            var lists = await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
            {
                var mine = new List<Sample>(20_000);
                while (!_stopped)
                {
                    var start = Stopwatch.GetTimestamp();
                    var (ok, version) = await SendAsync(http);
                    mine.Add(new Sample(start, Stopwatch.GetTimestamp() - start, ok, version));
                    if (ok)
                        Interlocked.Increment(ref _answered[version]);
                }
                return mine;
            })));
            return [.. lists.SelectMany(l => l)];
        }

        private async Task<(bool Ok, int Version)> SendAsync(HttpClient http)
        {
            try
            {
                using var request = ServingScenario.Request($"v2/models/{Endpoint}/infer", body, key);
                using var response = await http.SendAsync(request);
                var answer = await response.Content.ReadAsByteArrayAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                    return Failed($"{(int)response.StatusCode}: {Encoding.UTF8.GetString(answer)}");
                var version = ModelVersion(answer);
                return version >= 1 && version < _answered.Length ? (true, version) : Failed($"answered by model_version {version}");
            }
            catch (HttpRequestException e)
            {
                return Failed(e.Message);
            }
        }

        private (bool, int) Failed(string why)
        {
            Interlocked.CompareExchange(ref _firstError, why, null);
            return (false, 0);
        }

        /// <summary>The answer's top-level <c>model_version</c>, read without building a document (the client shares the cores).</summary>
        private static int ModelVersion(byte[] answer)
        {
            var reader = new Utf8JsonReader(answer);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("model_version"u8))
                {
                    reader.Read();
                    return int.TryParse(reader.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1;
                }
                if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject && reader.CurrentDepth >= 1)
                    reader.Skip();
            }
            return -1;
        }
    }
}
