using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Client;
using Slipway.Serving;
using Slipway.Serving.Python;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// The Python engine's worker hop: a clearml-serving style Preprocess (a 16-weight linear model, standard library only)
/// called through the host↔worker pipe protocol, each call's round trip against the time the hooks took inside Python (the
/// runner measures it around preprocess→process→postprocess); one caller, then 16 concurrent callers multiplexed onto the one
/// worker; and the same endpoint over HTTP (/serve, 1 connection) through ServingHost.
/// </summary>
public static class PythonServingScenario
{
    private const string Code = """
        import json

        class Preprocess:
            def load(self, local_file_name):
                with open(local_file_name) as f:
                    self.model = json.load(f)

            def preprocess(self, body, state, collect_custom_statistics_fn):
                return body["x"]

            def process(self, data, state, collect_custom_statistics_fn):
                return sum(w * v for w, v in zip(self.model["w"], data)) + self.model["b"]

            def postprocess(self, data, state, collect_custom_statistics_fn):
                return {"y": data}
        """;

    public static async Task RunAsync(BenchContext ctx)
    {
        var folder = Directory.CreateTempSubdirectory("slipway-bench-python-").FullName;
        try
        {
            var python = Environment.GetEnvironmentVariable("SLIPWAY_BENCH_PYTHON") ?? "python3";
            var code = Path.Combine(folder, "preprocess.py");
            await File.WriteAllTextAsync(code, Code);
            var model = Path.Combine(folder, "weights.json");
            var random = new Random(3);
            await File.WriteAllTextAsync(model, new JsonObject
            {
                ["w"] = new JsonArray(Enumerable.Range(0, 16).Select(_ => (JsonNode)random.NextDouble()).ToArray()),
                ["b"] = 0.5,
            }.ToJsonString());
            var body = Encoding.UTF8.GetBytes(new JsonObject { ["x"] = new JsonArray(Enumerable.Range(0, 16).Select(i => (JsonNode)(i * 0.1)).ToArray()) }.ToJsonString());
            var calls = ctx.Quick ? 5_000 : 50_000;
            // The host's default time limit per request, as ServingHost passes it (one timer per call).
            var limit = new ServingOptions().PythonRequestTimeout;

            // 1. The hop alone: one caller, sequential calls.
            var runner = RunnerScript.Extract(Path.Combine(folder, "cache"));
            var version = new ServedVersion("bench", "bench", 1, "m", "file://" + model, ServedVersion.Python);
            await using (var worker = WorkerProcess.Start(python, runner, code, model, version, NullLogger.Instance))
            {
                var loaded = await worker.WaitReadyAsync(CancellationToken.None);
                for (var i = 0; i < 2_000; i++)
                    await worker.CallAsync(body, true, limit, CancellationToken.None);
                var roundTrips = new Latencies(calls);
                var inPython = new Latencies(calls);
                var hops = new Latencies(calls);
                var toTicks = Stopwatch.Frequency / 1e9;
                for (var i = 0; i < calls; i++)
                {
                    var started = Stopwatch.GetTimestamp();
                    var answer = await worker.CallAsync(body, true, limit, CancellationToken.None);
                    var elapsed = Stopwatch.GetTimestamp() - started;
                    var python_ = (long)(answer.PythonNanoseconds * toTicks);
                    roundTrips.Add(elapsed);
                    inPython.Add(python_);
                    hops.Add(elapsed - python_);
                }
                var hopUs = hops.P50 * 1000;
                ctx.Results.Add(new Row("serving-python", "-", "worker hop p50: call round trip minus the Preprocess hooks' time in Python, 1 caller",
                    Us(hops.P50), Us(inPython.P50) + " in Python", "-", "< 100 µs", hopUs < 100,
                    $"Python {loaded.GetProperty("python").GetString()}; round trip p50 {Us(roundTrips.P50)}, p99 {Us(roundTrips.P99)}; hop p99 {Us(hops.P99)}; {calls:N0} calls"));

                // 2. 16 concurrent callers on the one worker (it answers in order, one at a time).
                var concurrent = new Latencies(calls);
                var clock = Stopwatch.StartNew();
                var perCaller = calls / 16;
                var lockObject = new Lock();
                await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
                {
                    var mine = new List<long>(perCaller);
                    for (var i = 0; i < perCaller; i++)
                    {
                        var started = Stopwatch.GetTimestamp();
                        await worker.CallAsync(body, true, limit, CancellationToken.None);
                        mine.Add(Stopwatch.GetTimestamp() - started);
                    }
                    lock (lockObject)
                        mine.ForEach(concurrent.Add);
                })));
                var rate = perCaller * 16 / clock.Elapsed.TotalSeconds;
                var sequentialRate = 1000 / roundTrips.P50;
                ctx.Results.Add(new Row("serving-python", "-", "16 concurrent callers multiplexed on one worker: calls/s", Fmt.N(rate), Fmt.N(sequentialRate) + " 1 caller (1/p50)",
                    Fmt.Ratio(rate / sequentialRate), "-", null, $"p50 {Us(concurrent.P50)}, p99 {Us(concurrent.P99)}"));
            }

            // 3. Over HTTP through the host: /serve with a JSON body, 1 connection.
            await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
            var clientOptions = server.AdminClientOptions();
            using var client = new SlipwayClient(clientOptions);
            await using var host = await ServingHost.StartAsync(new ServingOptions
            {
                Port = 0, PollInterval = TimeSpan.FromMilliseconds(250), CacheFolder = Path.Combine(folder, "host-cache"), Python = python,
            }, clientOptions, logging => logging.AddFilter(_ => false));
            var registered = await client.Models.RegisterAsync(new ModelRegistration { File = model, Name = "linear" });
            var endpoint = (await client.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "linear" }))["id"]!.GetValue<string>();
            var codeUri = await client.Files.UploadFileAsync(code, "serving/bench/preprocess.py");
            await client.CallAsync("serving.add_version", new JsonObject
            {
                ["endpoint"] = endpoint, ["model"] = registered.Id, ["engine"] = "python", ["preprocess_uri"] = codeUri.ToString(),
            });
            var key = (await client.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = endpoint }))["key"]!.GetValue<string>();
            using var http = new HttpClient { BaseAddress = host.Url };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!(await http.GetAsync("v2/models/linear/ready")).IsSuccessStatusCode)
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException("the Python endpoint did not become ready");
                await Task.Delay(20);
            }
            var httpCalls = calls / 5;
            var total = new Latencies(httpCalls);
            var added = new Latencies(httpCalls);
            for (var i = 0; i < httpCalls + 1_000; i++)
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                var started = Stopwatch.GetTimestamp();
                using var response = await http.PostAsync("serve/linear", content);
                await response.Content.ReadAsByteArrayAsync();
                var elapsed = Stopwatch.GetTimestamp() - started;
                response.EnsureSuccessStatusCode();
                if (i < 1_000)
                    continue;
                var ns = long.Parse(response.Headers.GetValues("X-Slipway-Python-Ns").Single(), CultureInfo.InvariantCulture);
                total.Add(elapsed);
                added.Add(elapsed - (long)(ns * (Stopwatch.Frequency / 1e9)));
            }
            ctx.Results.Add(new Row("serving-python", "-", "/serve over HTTP, 1 connection: latency p50 minus the hooks' time in Python",
                Us(added.P50), Us(total.P50) + " whole request", "-", "-", null, $"p99 {Us(total.P99)} whole request; HTTP client, Kestrel, key check, routing and the hop"));
        }
        finally
        {
            BenchServer.TryDelete(folder);
        }
    }

    private static string Us(double ms) => (ms * 1000).ToString("0.0", CultureInfo.InvariantCulture) + " µs";
}
