using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Serving;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// The inference host against a bare host (Kestrel, the same V2 JSON codec and ONNX Runtime session, no routing, keys,
/// metrics or version handling) in the same run, alternating blocks so drift hits both; dynamic batching against the same
/// endpoint unbatched on a ~1M-parameter MLP; and a 10 MB model from add_version to its first answer.
/// </summary>
public static class ServingScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var folder = Directory.CreateTempSubdirectory("slipway-bench-serving-").FullName;
        try
        {
            await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
            var clientOptions = server.AdminClientOptions();
            using var client = new SlipwayClient(clientOptions);
            await using var host = await ServingHost.StartAsync(new ServingOptions
            {
                Port = 0, PollInterval = TimeSpan.FromMilliseconds(250), CacheFolder = Path.Combine(folder, "cache"),
            }, clientOptions, logging => logging.AddFilter(_ => false));
            var seconds = ctx.Quick ? 1.0 : 3.0;
            var rounds = ctx.Quick ? 1 : 3;

            // 1. Small MLP, 16 connections: the host against the bare baseline.
            var small = new Mlp(16, 64, 4, seed: 1);
            var smallPath = Path.Combine(folder, "small.onnx");
            await File.WriteAllBytesAsync(smallPath, small.ToOnnx());
            var (_, smallKey) = await DeployAsync(client, host, smallPath, "small", null);
            await using var bare = await BareHost.StartAsync(smallPath);
            var smallBody = Body(16, 1);
            var hosted = new Load();
            var baseline = new Load();
            for (var r = 0; r < rounds; r++)
            {
                await RunLoadAsync(bare.Url, "infer", smallBody, null, 16, TimeSpan.FromSeconds(seconds), baseline);
                await RunLoadAsync(host.Url, "v2/models/small/infer", smallBody, smallKey, 16, TimeSpan.FromSeconds(seconds), hosted);
            }
            var ratio = hosted.Rate / baseline.Rate;
            ctx.Results.Add(new Row("serving", "-", "V2 JSON infer, 16→64→4 MLP, 16 connections: requests/s", Fmt.N(hosted.Rate), Fmt.N(baseline.Rate) + " bare host",
                Fmt.Ratio(ratio), "≥ 0.90×", ratio >= 0.9, $"p50 {Fmt.Ms(hosted.Latencies.P50)} vs {Fmt.Ms(baseline.Latencies.P50)}; errors {hosted.Errors}"));
            var added = hosted.Latencies.P99 - baseline.Latencies.P99;
            ctx.Results.Add(new Row("serving", "-", "same: p99 latency added by the host", Fmt.Ms(added), $"p99 {Fmt.Ms(hosted.Latencies.P99)} vs {Fmt.Ms(baseline.Latencies.P99)}",
                "-", "< 1 ms", added < 1));

            // 2. Dynamic batching, 64 clients of one row each: batched against unbatched, and unbatched p99 at 1 client. First the
            // issue's ~1M-parameter MLP; then a 4.2M-parameter one, because on this CPU the smaller one runs a row in ~45 µs,
            // about what the in-process load generator and HTTP cost per request, so batching can save only half the work.
            await BatchingAsync(ctx, client, host, folder, new Mlp(512, 1024, 512, seed: 2), "large", seconds, rounds);
            await BatchingAsync(ctx, client, host, folder, new Mlp(1024, 2048, 1024, seed: 4), "larger", seconds, rounds);

            // 3. A registered 10 MB model to its first answer from a new endpoint.
            var tenMb = new Mlp(1024, 1280, 1024, seed: 3);
            var tenPath = Path.Combine(folder, "ten.onnx");
            await File.WriteAllBytesAsync(tenPath, tenMb.ToOnnx());
            var size = new FileInfo(tenPath).Length;
            var model = await client.Models.RegisterAsync(new ModelRegistration { File = tenPath, Name = "ten-mb" });
            var endpoint = (await client.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "ten" }))["id"]!.GetValue<string>();
            var key = (await client.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = endpoint }))["key"]!.GetValue<string>();
            using var http = new HttpClient { BaseAddress = host.Url };
            var tenBody = Body(1024, 1);
            var clock = Stopwatch.StartNew();
            await client.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model.Id });
            while (true)
            {
                using var request = Request("v2/models/ten/infer", tenBody, key);
                using var response = await http.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.OK)
                    break;
                if (clock.Elapsed > TimeSpan.FromSeconds(60))
                    throw new TimeoutException("the 10 MB model did not answer within 60 s");
                await Task.Delay(5);
            }
            var first = clock.Elapsed.TotalMilliseconds;
            ctx.Results.Add(new Row("serving", "-", $"registered {Fmt.Mb(size)} ONNX model: add_version → first answer", Fmt.Ms(first), "-", "-", "< 1 s", first < 1000,
                "host polls every 250 ms; includes download from the file server, session create and warm-up"));
            ctx.Results.Note("serving: load generator (HttpClient) runs in the same process as the server, the host and the bare host, on the same cores");
        }
        finally
        {
            BenchServer.TryDelete(folder);
        }
    }

    private static async Task BatchingAsync(BenchContext ctx, SlipwayClient client, ServingHost host, string folder, Mlp mlp, string name, double seconds, int rounds)
    {
        var path = Path.Combine(folder, name + ".onnx");
        await File.WriteAllBytesAsync(path, mlp.ToOnnx());
        var millions = (mlp.W1.Length + mlp.B1.Length + mlp.W2.Length + mlp.B2.Length) / 1e6;
        var label = $"{mlp.Inputs}→{mlp.Hidden}→{mlp.Outputs} MLP ({millions:0.00}M parameters)";
        var (_, plainKey) = await DeployAsync(client, host, path, name, null);
        var (_, batchKey) = await DeployAsync(client, host, path, name + "-batched", new JsonObject { ["max_batch_size"] = 64, ["max_queue_delay_ms"] = 2 });
        // Binary tensors, so that the comparison is about the model runs rather than about parsing hundreds of JSON numbers per request.
        var (body, header) = BinaryBody(mlp.Inputs);
        var single = new Load();
        await RunLoadAsync(host.Url, $"v2/models/{name}/infer", body, plainKey, 1, TimeSpan.FromSeconds(seconds), single, header);
        var plain = new Load();
        var batched = new Load();
        for (var r = 0; r < rounds; r++)
        {
            await RunLoadAsync(host.Url, $"v2/models/{name}/infer", body, plainKey, 64, TimeSpan.FromSeconds(seconds), plain, header);
            await RunLoadAsync(host.Url, $"v2/models/{name}-batched/infer", body, batchKey, 64, TimeSpan.FromSeconds(seconds), batched, header);
        }
        var gain = batched.Rate / plain.Rate;
        ctx.Results.Add(new Row("serving", "-", $"dynamic batching (max 64 rows, 2 ms), {label}, 64 clients, V2 binary: requests/s", Fmt.N(batched.Rate),
            Fmt.N(plain.Rate) + " unbatched", Fmt.Ratio(gain), "≥ 2×", gain >= 2, $"errors {batched.Errors + plain.Errors}; p50 {Fmt.Ms(batched.Latencies.P50)} vs {Fmt.Ms(plain.Latencies.P50)}"));
        var p99Ratio = batched.Latencies.P99 / single.Latencies.P99;
        // Little's law bounds this one: 64 clients in a closed loop wait 64 / throughput on average.
        ctx.Results.Add(new Row("serving", "-", "same: batched p99 at 64 clients vs unbatched p99 at 1 client", Fmt.Ms(batched.Latencies.P99),
            Fmt.Ms(single.Latencies.P99), Fmt.Ratio(p99Ratio), "≤ 2×", p99Ratio <= 2,
            $"unbatched p99 at 64 clients {Fmt.Ms(plain.Latencies.P99)}; 64 / batched throughput = {Fmt.Ms(64_000 / batched.Rate)} mean by Little's law"));
        // Diagnostic: the model call alone, one row against 64 rows at once (per row).
        using var direct = OnnxModel.Load(path, 1);
        var one = new TensorData("input", "FP32", [1, mlp.Inputs], new byte[mlp.Inputs * 4]);
        var many = new TensorData("input", "FP32", [64, mlp.Inputs], new byte[64 * mlp.Inputs * 4]);
        for (var i = 0; i < 50; i++)
        {
            direct.Run([one]);
            direct.Run([many]);
        }
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 640; i++)
            direct.Run([one]);
        var perRowSingle = watch.Elapsed.TotalMilliseconds / 640;
        watch.Restart();
        for (var i = 0; i < 10; i++)
            direct.Run([many]);
        var perRowBatched = watch.Elapsed.TotalMilliseconds / 640;
        ctx.Results.Add(new Row("serving", "-", $"diagnostic: the {millions:0.00}M-parameter model alone, per row, batch 64 vs batch 1", Fmt.Ms(perRowBatched), Fmt.Ms(perRowSingle),
            Fmt.Ratio(perRowBatched / perRowSingle), "-", null));
    }

    internal static async Task<(string Endpoint, string Key)> DeployAsync(SlipwayClient client, ServingHost host, string path, string name, JsonObject? settings)
    {
        var model = await client.Models.RegisterAsync(new ModelRegistration { File = path, Name = name });
        var body = settings ?? [];
        body["name"] = name;
        var endpoint = (await client.CallAsync("serving.create_endpoint", body))["id"]!.GetValue<string>();
        await client.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model.Id });
        var key = (await client.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = endpoint }))["key"]!.GetValue<string>();
        using var http = new HttpClient { BaseAddress = host.Url };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/models/{name}/ready");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await http.SendAsync(request);
            if (response.IsSuccessStatusCode)
                return (endpoint, key);
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{name} did not become ready");
            await Task.Delay(20);
        }
    }

    internal static byte[] Body(int width, int rows)
    {
        var random = new Random(4);
        return Encoding.UTF8.GetBytes(new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = "input", ["datatype"] = "FP32", ["shape"] = new JsonArray(rows, width),
                ["data"] = new JsonArray(Enumerable.Range(0, rows * width).Select(_ => (JsonNode)(float)(random.NextDouble() * 2 - 1)).ToArray()),
            }),
        }.ToJsonString());
    }

    /// <summary>A V2 binary request of one row of <paramref name="width"/> floats: the JSON header's length and the body.</summary>
    private static (byte[] Body, int HeaderLength) BinaryBody(int width)
    {
        var header = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = "input", ["datatype"] = "FP32", ["shape"] = new JsonArray(1, width),
                ["parameters"] = new JsonObject { ["binary_data_size"] = width * 4 },
            }),
            ["outputs"] = new JsonArray(new JsonObject { ["name"] = "output", ["parameters"] = new JsonObject { ["binary_data"] = true } }),
        }.ToJsonString());
        var random = new Random(5);
        var values = Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var raw = new byte[width * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        return ([.. header, .. raw], header.Length);
    }

    internal static HttpRequestMessage Request(string path, byte[] body, string? key, int? headerLength = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(headerLength is null ? "application/json" : "application/octet-stream");
        if (headerLength is { } length)
            request.Content.Headers.Add("Inference-Header-Content-Length", length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (key is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }

    private sealed class Load
    {
        public Latencies Latencies { get; } = new(100_000);
        public long Errors;
        public double Seconds;
        public double Rate => Latencies.Count / Seconds;
    }

    /// <summary>Closed-loop load: <paramref name="connections"/> clients each sending the next request when the last is answered.</summary>
    private static async Task RunLoadAsync(Uri baseUrl, string path, byte[] body, string? key, int connections, TimeSpan duration, Load into, int? headerLength = null)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { BaseAddress = baseUrl };
        // Warm-up: opens the connections and tiers up both sides.
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            for (var i = 0; i < 20; i++)
            {
                using var request = Request(path, body, key, headerLength);
                using var response = await http.SendAsync(request);
                await response.Content.ReadAsByteArrayAsync();
            }
        }));
        var stop = Stopwatch.StartNew();
        var lists = await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            var mine = new List<long>();
            var errors = 0L;
            var sink = ArrayPool<byte>.Shared.Rent(64 * 1024);
            while (stop.Elapsed < duration)
            {
                var start = Stopwatch.GetTimestamp();
                using var request = Request(path, body, key, headerLength);
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                await using (var stream = await response.Content.ReadAsStreamAsync())
                {
                    while (await stream.ReadAsync(sink) > 0)
                    {
                    }
                }
                if (response.StatusCode != HttpStatusCode.OK)
                    errors++;
                mine.Add(Stopwatch.GetTimestamp() - start);
            }
            ArrayPool<byte>.Shared.Return(sink);
            return (mine, errors);
        }));
        lock (into)
        {
            into.Seconds += stop.Elapsed.TotalSeconds;
            foreach (var (mine, errors) in lists)
            {
                foreach (var t in mine)
                    into.Latencies.Add(t);
                into.Errors += errors;
            }
        }
    }

    /// <summary>The baseline: Kestrel, the V2 JSON codec and one ONNX Runtime session; nothing else.</summary>
    private sealed class BareHost : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly OnnxModel _model;

        private BareHost(WebApplication app, OnnxModel model, Uri url)
        {
            _app = app;
            _model = model;
            Url = url;
        }

        public Uri Url { get; }

        public static async Task<BareHost> StartAsync(string modelPath)
        {
            var model = OnnxModel.Load(modelPath, 1);
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.Run(async http =>
            {
                using var buffer = new MemoryStream();
                await http.Request.Body.CopyToAsync(buffer);
                var request = V2Codec.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), null);
                var outputs = model.Run(request.Inputs);
                var writer = new ArrayBufferWriter<byte>(1024);
                V2Codec.WriteResponse(writer, "small", "1", request.Id, outputs, request);
                http.Response.ContentType = "application/json";
                http.Response.ContentLength = writer.WrittenCount;
                await http.Response.Body.WriteAsync(writer.WrittenMemory);
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new BareHost(app, model, new Uri(address + "/"));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _model.Dispose();
        }
    }
}
