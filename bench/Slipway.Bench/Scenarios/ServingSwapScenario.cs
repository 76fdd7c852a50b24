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
/// A version swap under steady load, the way a user promotes: 16 closed-loop connections on an endpoint serving version 1,
/// then <c>serving.add_version</c> of another model (which takes all the traffic once the host has it ready) and, once
/// version 2 answers, <c>serving.remove_version</c> of version 1. Three windows of one continuous load: steady before, the
/// swap (add_version until version 1 is retired on the host), steady after; each request is counted by the version that
/// answered it.
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
            var admin = server.Server.NewAdmin!;
            var clientOptions = new ClientOptions
            {
                ApiServer = server.Server.ApiUrl, FilesServer = server.Server.FilesUrl, WebServer = server.Server.WebUrl,
                AccessKey = admin.AccessKey, SecretKey = admin.SecretKey,
            };
            using var client = new SlipwayClient(clientOptions);
            await using var host = await ServingHost.StartAsync(new ServingOptions
            {
                Port = 0, PollInterval = TimeSpan.FromMilliseconds(250), CacheFolder = Path.Combine(folder, "cache"),
            }, clientOptions, logging => logging.AddFilter(_ => false));
            var window = TimeSpan.FromSeconds(ctx.Quick ? 1.0 : 5.0);
            var warmUp = TimeSpan.FromSeconds(ctx.Quick ? 0.5 : 2.0);

            // The same small MLP as the serving scenario; version 2 is the same shape with other weights.
            var firstPath = Path.Combine(folder, "v1.onnx");
            var secondPath = Path.Combine(folder, "v2.onnx");
            await File.WriteAllBytesAsync(firstPath, new Mlp(16, 64, 4, seed: 1).ToOnnx());
            await File.WriteAllBytesAsync(secondPath, new Mlp(16, 64, 4, seed: 11).ToOnnx());
            var (endpoint, key) = await ServingScenario.DeployAsync(client, host, firstPath, Endpoint, null);
            var loadBefore = LoadAverage();

            var load = new SwapLoad(host.Url, ServingScenario.Body(16, 1), key);
            var running = load.RunAsync(Connections);
            await Task.Delay(warmUp);
            var steadyStart = Stopwatch.GetTimestamp();
            await Task.Delay(window);
            var steadyEnd = Stopwatch.GetTimestamp();
            var model = await client.Models.RegisterAsync(new ModelRegistration { File = secondPath, Name = Endpoint + "-v2" });

            var swapStart = Stopwatch.GetTimestamp();
            await client.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model.Id });
            await WaitAsync(() => load.Answered(2) > 0, "version 2 to answer");
            var secondAnswered = Stopwatch.GetTimestamp();
            await client.CallAsync("serving.remove_version", new JsonObject { ["endpoint"] = endpoint, ["version"] = 1 });
            await WaitAsync(() => !host.Watcher.Versions.Any(v => v.EndpointName == Endpoint && v.Number == 1), "version 1 to be retired");
            var swapEnd = Stopwatch.GetTimestamp();

            await Task.Delay(window);
            var afterEnd = Stopwatch.GetTimestamp();
            load.Stop();
            var samples = await running;
            var loadAfter = LoadAverage();

            var steady = Window.Of(samples, steadyStart, steadyEnd);
            var registering = Window.Of(samples, steadyEnd, swapStart);
            var swap = Window.Of(samples, swapStart, swapEnd);
            var loading = Window.Of(samples, swapStart, secondAnswered);
            var draining = Window.Of(samples, secondAnswered, swapEnd);
            var after = Window.Of(samples, swapEnd, afterEnd);
            var failed = samples.Count(s => !s.Ok);
            var lastFirst = samples.Where(s => s.Version == 1).Select(s => s.Start).DefaultIfEmpty(0).Max();
            var firstAfterSwap = after.Answered(1);

            var ratio = swap.Latencies.P99 / steady.Latencies.P99;
            ctx.Results.Add(new Row("serving-swap", "-", "steady window on version 1, 16→64→4 MLP, 16 connections, V2 JSON: p99", Fmt.Ms(steady.Latencies.P99), "-", "-", "-", null,
                $"p50 {Fmt.Ms(steady.Latencies.P50)}, {Fmt.N(steady.Rate)} requests/s over {steady.Seconds:0.0} s, failed {steady.Failed}"));
            ctx.Results.Add(new Row("serving-swap", "-", "swap window (add_version → version 1 retired on the host): p99", Fmt.Ms(swap.Latencies.P99), Fmt.Ms(steady.Latencies.P99) + " steady",
                Fmt.Ratio(ratio), "≤ 2×", ratio <= 2,
                $"p50 {Fmt.Ms(swap.Latencies.P50)}, max {Fmt.Ms(swap.Latencies.Max)}, {Fmt.N(swap.Rate)} requests/s; answered by v1 {swap.Answered(1)}, v2 {swap.Answered(2)}; " +
                $"until v2's first answer p99 {Fmt.Ms(loading.Latencies.P99)} ({loading.Latencies.Count} requests), then until v1 retired p99 {Fmt.Ms(draining.Latencies.P99)} ({draining.Latencies.Count})"));
            ctx.Results.Add(new Row("serving-swap", "-", "failed requests, whole run (steady, registration, swap, after)", Fmt.N(failed), "-", "-", "0", failed == 0,
                $"{Fmt.N(samples.Count)} requests; v1 answers after the swap window {firstAfterSwap}; during v2's registration p99 {Fmt.Ms(registering.Latencies.P99)}" + load.FirstError));
            ctx.Results.Add(new Row("serving-swap", "-", "swap duration: add_version → version 1 retired", Fmt.Ms(Ms(swapEnd - swapStart)), "-", "-", "-", null,
                $"add_version → v2's first answer {Fmt.Ms(Ms(secondAnswered - swapStart))} (poll 250 ms, download, session create, warm-up); " +
                $"remove_version → v1 retired {Fmt.Ms(Ms(swapEnd - secondAnswered))}; last v1 answer started {Fmt.Ms(Ms(lastFirst - swapStart))} after add_version"));
            ctx.Results.Add(new Row("serving-swap", "-", "steady window after, on version 2: p99", Fmt.Ms(after.Latencies.P99), Fmt.Ms(steady.Latencies.P99) + " before",
                Fmt.Ratio(after.Latencies.P99 / steady.Latencies.P99), "-", null,
                $"p50 {Fmt.Ms(after.Latencies.P50)}, {Fmt.N(after.Rate)} requests/s, failed {after.Failed}"));
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

    /// <summary>The requests that started inside one window of the run.</summary>
    private sealed class Window
    {
        private readonly Dictionary<int, int> _answered = [];

        public Latencies Latencies { get; } = new(100_000);
        public int Failed { get; private set; }
        public double Seconds { get; private init; }
        public double Rate => Latencies.Count / Seconds;

        public int Answered(int version) => _answered.GetValueOrDefault(version);

        public static Window Of(IEnumerable<Sample> samples, long start, long end)
        {
            var window = new Window { Seconds = Ms(end - start) / 1000 };
            foreach (var s in samples.Where(s => s.Start >= start && s.Start < end))
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
    private sealed class SwapLoad(Uri baseUrl, byte[] body, string key)
    {
        private volatile bool _stopped;
        private readonly int[] _answered = new int[3];
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
                    if (ok && version is 1 or 2)
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
                return version is 1 or 2 ? (true, version) : Failed($"answered by model_version {version}");
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
