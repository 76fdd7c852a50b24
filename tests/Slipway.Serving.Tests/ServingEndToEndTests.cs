using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

/// <summary>A registered model deployed behind an endpoint and called over HTTP on loopback, as a user would.</summary>
public sealed class ServingEndToEndTests : IAsyncLifetime
{
    private readonly ServingFixture _f = new();
    private readonly Mlp _mlp = new(4, 16, 3, seed: 7);

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    private async Task<(string Endpoint, string Key, long Version)> DeployAsync(string name, Mlp? mlp = null, JsonObject? settings = null)
    {
        var model = await _f.RegisterModelAsync((mlp ?? _mlp).ToOnnx());
        var endpoint = await _f.CreateEndpointAsync(name, settings);
        var version = await _f.AddVersionAsync(endpoint, model);
        var (_, key) = await _f.CreateKeyAsync(endpoint);
        await _f.WaitForReadyAsync(name, version, key);
        return (endpoint, key, version);
    }

    private static string V2Json(float[] x, int width = 4, string datatype = "FP32", long[]? shape = null) => new JsonObject
    {
        ["id"] = "r1",
        ["inputs"] = new JsonArray(new JsonObject
        {
            ["name"] = "input",
            ["datatype"] = datatype,
            ["shape"] = new JsonArray((shape ?? [x.Length / width, width]).Select(d => (JsonNode)d).ToArray()),
            ["data"] = new JsonArray(x.Select(v => (JsonNode)v).ToArray()),
        }),
    }.ToJsonString();

    private static float[] Outputs(JsonNode answer) =>
        answer["outputs"]![0]!["data"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    [Fact]
    public async Task V2_json_v2_binary_and_serve_answer_the_models_math()
    {
        var (_, key, version) = await DeployAsync("mlp");
        float[] x = [0.5f, -1, 2, 0.25f, 1, 1, -1, 0, 3, -2, 0.5f, 1];
        var expected = _mlp.Compute(x);
        var tolerance = new Tolerance(1e-5f);

        using (var json = await _f.PostAsync("v2/models/mlp/infer", V2Json(x), key))
        {
            Assert.Equal(HttpStatusCode.OK, json.StatusCode);
            var answer = JsonNode.Parse(await json.Content.ReadAsStringAsync())!;
            Assert.Equal("mlp", answer["model_name"]!.GetValue<string>());
            Assert.Equal(version.ToString(CultureInfo.InvariantCulture), answer["model_version"]!.GetValue<string>());
            Assert.Equal("r1", answer["id"]!.GetValue<string>());
            Assert.Equal([3L, 3L], answer["outputs"]![0]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
            Assert.Equal(expected, Outputs(answer), tolerance);
        }

        // Binary extension: JSON header, then the raw input; the output asked as binary too.
        var header = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = "input", ["datatype"] = "FP32", ["shape"] = new JsonArray(3, 4),
                ["parameters"] = new JsonObject { ["binary_data_size"] = x.Length * 4 },
            }),
            ["outputs"] = new JsonArray(new JsonObject { ["name"] = "output", ["parameters"] = new JsonObject { ["binary_data"] = true } }),
        }.ToJsonString());
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"v2/models/mlp/versions/{version}/infer"))
        {
            request.Content = new ByteArrayContent([.. header, .. Floats.Bytes(x)]);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            request.Content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add(ServingHost.KeyHeader, key);
            using var binary = await _f.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, binary.StatusCode);
            var body = await binary.Content.ReadAsByteArrayAsync();
            var jsonLength = int.Parse(binary.Headers.GetValues("Inference-Header-Content-Length").Single(), CultureInfo.InvariantCulture);
            var answer = JsonNode.Parse(body.AsSpan(0, jsonLength))!;
            Assert.Equal(expected.Length * 4, answer["outputs"]![0]!["parameters"]!["binary_data_size"]!.GetValue<int>());
            Assert.Equal(expected, Floats.From(body[jsonLength..]), tolerance);
        }

        // Raw binary: no JSON header at all, the body is the one input of batch 1; the answer is JSON.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v2/models/mlp/infer"))
        {
            request.Content = new ByteArrayContent(Floats.Bytes(x[..4]));
            request.Content.Headers.Add("Inference-Header-Content-Length", "0");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var raw = await _f.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
            Assert.Equal(expected[..3], Outputs(JsonNode.Parse(await raw.Content.ReadAsStringAsync())!), tolerance);
        }

        var rows = new JsonArray(Enumerable.Range(0, 3).Select(r => (JsonNode)new JsonArray(x.Skip(r * 4).Take(4).Select(v => (JsonNode)v).ToArray())).ToArray());
        using (var serve = await _f.PostAsync("serve/mlp", new JsonObject { ["input"] = rows }.ToJsonString(), key))
        {
            Assert.Equal(HttpStatusCode.OK, serve.StatusCode);
            var answer = JsonNode.Parse(await serve.Content.ReadAsStringAsync())!;
            var output = answer["output"]!.AsArray();
            Assert.Equal(3, output.Count);
            Assert.Equal(expected, output.SelectMany(row => row!.AsArray().Select(v => v!.GetValue<float>())).ToArray(), tolerance);
        }

        using var metadata = new HttpRequestMessage(HttpMethod.Get, "v2/models/mlp");
        metadata.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var described = JsonNode.Parse(await (await _f.Http.SendAsync(metadata)).Content.ReadAsStringAsync())!;
        Assert.Equal("input", described["inputs"]![0]!["name"]!.GetValue<string>());
        Assert.Equal([-1L, 4L], described["inputs"]![0]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
    }

    [Fact]
    public async Task Requests_without_a_valid_key_too_large_or_malformed_are_refused_clearly()
    {
        var (endpoint, key, _) = await DeployAsync("guarded", settings: new JsonObject { ["max_request_bytes"] = 2000 });
        var (otherEndpoint, otherKey, _) = await DeployAsync("other");
        float[] x = [1, 2, 3, 4];

        async Task<(HttpStatusCode Status, string Error)> Call(string json, string? withKey, string path = "v2/models/guarded/infer")
        {
            using var response = await _f.PostAsync(path, json, withKey);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text);
        }

        Assert.Equal(HttpStatusCode.OK, (await Call(V2Json(x), key)).Status);
        var missing = await Call(V2Json(x), null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.Status);
        Assert.Contains("needs a key", missing.Error);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Call(V2Json(x), otherKey)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Call(V2Json(x), "slw_made-up")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Call("{}", null, "serve/guarded")).Status);

        var big = V2Json(Enumerable.Repeat(1.5f, 2000).ToArray());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await Call(big, key)).Status);
        // Without a Content-Length (chunked), the limit holds while the body is read.
        using (var chunked = new HttpRequestMessage(HttpMethod.Post, "v2/models/guarded/infer"))
        {
            chunked.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
            chunked.Headers.TransferEncodingChunked = true;
            chunked.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await _f.Http.SendAsync(chunked);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        var wrongShape = await Call(V2Json([1, 2, 3, 4, 5], width: 5), key);
        Assert.Equal(HttpStatusCode.BadRequest, wrongShape.Status);
        Assert.Contains("shape", wrongShape.Error);
        var wrongType = await Call(V2Json(x, datatype: "INT64"), key);
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.Status);
        var wrongLength = await Call(V2Json([1, 2, 3], shape: [1, 4]), key);
        Assert.Equal(HttpStatusCode.BadRequest, wrongLength.Status);
        Assert.Contains("values", wrongLength.Error);
        Assert.Equal(HttpStatusCode.BadRequest, (await Call("{\"inputs\": [", key)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Call("{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,\"a\",3,4]}]}", key)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Call(V2Json(x), key, "v2/models/nothing-here/infer")).Status);

        // A revoked key stops working once the host has seen the change.
        var keys = await _f.Client.CallAsync("serving.get_keys", new JsonObject { ["endpoint"] = endpoint });
        Assert.DoesNotContain("hash", keys.ToJsonString());
        await _f.Client.CallAsync("serving.revoke_key", new JsonObject { ["endpoint"] = endpoint, ["key_id"] = keys["keys"]![0]!["id"]!.GetValue<string>() });
        await ServingFixture.WaitForAsync(async () => (await Call(V2Json(x), key)).Status == HttpStatusCode.Unauthorized, "the revoked key to be refused");

        // A public endpoint answers anyone.
        await _f.Client.CallAsync("serving.update_endpoint", new JsonObject { ["endpoint"] = otherEndpoint, ["public"] = true });
        await ServingFixture.WaitForAsync(async () => (await Call(V2Json(x), null, "v2/models/other/infer")).Status == HttpStatusCode.OK, "the public endpoint to answer without a key");
    }

    [Fact]
    public async Task A_corrupt_model_fails_to_load_with_its_reason_and_the_old_version_keeps_serving()
    {
        var (endpoint, key, first) = await DeployAsync("steady");
        var corrupt = await _f.RegisterModelAsync([1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var second = await _f.AddVersionAsync(endpoint, corrupt);
        await ServingFixture.WaitForAsync(async () =>
        {
            var got = await _f.Client.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint });
            var instances = got["endpoint"]!["versions"]!.AsArray().Single(v => v!["version"]!.GetValue<long>() == second)!["instances"]!.AsArray();
            return instances.Any(i => i!["state"]!.GetValue<string>() == "failed" && i["reason"]!.GetValue<string>().Length > 0);
        }, "the server to hear that version 2 failed");

        using var answer = await _f.PostAsync("v2/models/steady/infer", V2Json([1, 2, 3, 4]), key);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(first.ToString(CultureInfo.InvariantCulture), JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["model_version"]!.GetValue<string>());
        using var direct = await _f.PostAsync($"v2/models/steady/versions/{second}/infer", V2Json([1, 2, 3, 4]), key);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, direct.StatusCode);
        Assert.Contains("failed to load", await direct.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_version_swap_under_steady_load_loses_no_request()
    {
        var (endpoint, key, first) = await DeployAsync("swap");
        var next = new Mlp(4, 16, 3, seed: 99);
        var nextModel = await _f.RegisterModelAsync(next.ToOnnx());
        float[] x = [0.1f, 0.2f, 0.3f, 0.4f];
        var oldAnswer = _mlp.Compute(x);
        var newAnswer = next.Compute(x);
        var tolerance = new Tolerance(1e-5f);
        var failures = new List<string>();
        var answered = new Dictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await _f.PostAsync("v2/models/swap/infer", V2Json(x), key);
                var text = await response.Content.ReadAsStringAsync();
                lock (failures)
                {
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Add($"{(int)response.StatusCode}: {text}");
                        continue;
                    }
                    var got = JsonNode.Parse(text)!;
                    var version = got["model_version"]!.GetValue<string>();
                    var values = Outputs(got);
                    if (!values.SequenceEqual(version == "1" ? oldAnswer : newAnswer, tolerance))
                        failures.Add($"version {version} answered the other model's values");
                    answered[version] = answered.GetValueOrDefault(version) + 1;
                }
            }
        })).ToArray();

        await ServingFixture.WaitForAsync(() => Task.FromResult(Count(answered, "1") > 50), "steady traffic on version 1");
        var second = await _f.AddVersionAsync(endpoint, nextModel);
        await ServingFixture.WaitForAsync(() => Task.FromResult(Count(answered, "2") > 50), "traffic to move to version 2");
        await _f.Client.CallAsync("serving.remove_version", new JsonObject { ["endpoint"] = endpoint, ["version"] = first });
        await ServingFixture.WaitForAsync(() => Task.FromResult(!_f.Host.Watcher.Versions.Any(v => v.Number == first)), "version 1 to be retired");
        var afterRemoval = Count(answered, "2");
        await ServingFixture.WaitForAsync(() => Task.FromResult(Count(answered, "2") > afterRemoval + 50), "traffic after the removal");
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.Empty(failures);
        Assert.Equal(2, second);
    }

    [Fact]
    public async Task A_published_model_is_rolled_out_by_auto_update_under_load_without_a_failed_request()
    {
        var (endpoint, key, _) = await DeployAsync("auto");
        await _f.Client.CallAsync("serving.set_auto_update", new JsonObject { ["endpoint"] = endpoint, ["model_name"] = "candidate", ["published"] = true, ["keep"] = 1 });
        var next = new Mlp(4, 16, 3, seed: 42);
        var model = await _f.RegisterModelAsync(next.ToOnnx(), "candidate");
        var failures = new List<string>();
        var answered = new Dictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await _f.PostAsync("v2/models/auto/infer", V2Json([1, 2, 3, 4]), key);
                var text = await response.Content.ReadAsStringAsync();
                lock (answered)
                {
                    if (response.StatusCode != HttpStatusCode.OK)
                        failures.Add($"{(int)response.StatusCode}: {text}");
                    else
                        answered[JsonNode.Parse(text)!["model_version"]!.GetValue<string>()] = answered.GetValueOrDefault(JsonNode.Parse(text)!["model_version"]!.GetValue<string>()) + 1;
                }
            }
        })).ToArray();
        await ServingFixture.WaitForAsync(() => Task.FromResult(Count(answered, "1") > 20), "traffic on version 1");
        // Registered but not published: the rule waits for the publish.
        Assert.Single((await _f.Client.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["versions"]!.AsArray());
        await _f.Client.Models.PublishAsync(model);
        await ServingFixture.WaitForAsync(() => Task.FromResult(Count(answered, "2") > 20), "traffic on the auto-updated version 2");
        await ServingFixture.WaitForAsync(() => Task.FromResult(!_f.Host.Watcher.Versions.Any(v => v.Number == 1)), "version 1 to be retired (keep 1)");
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.Empty(failures);
    }

    private static int Count(Dictionary<string, int> answered, string version)
    {
        lock (answered)
            return answered.GetValueOrDefault(version);
    }

    [Fact]
    public async Task A_canary_splits_traffic_by_its_weights()
    {
        var (endpoint, key, first) = await DeployAsync("canary");
        var second = await _f.AddVersionAsync(endpoint, await _f.RegisterModelAsync(new Mlp(4, 16, 3, seed: 5).ToOnnx()), weight: 0);
        await _f.WaitForReadyAsync("canary", second, key);
        await _f.Client.CallAsync("serving.set_canary", new JsonObject
        {
            ["endpoint"] = endpoint,
            ["weights"] = new JsonObject { [first.ToString(CultureInfo.InvariantCulture)] = 0.8, [second.ToString(CultureInfo.InvariantCulture)] = 0.2 },
        });
        // The weights reach the host with its next poll; a request to an explicit version is unaffected by them.
        await ServingFixture.WaitForAsync(() => Task.FromResult(_f.Host.Watcher.Table.Find("canary")!.Versions.Any(v => v.Version.Number == second && v.Weight > 0)), "the new weights");
        const int total = 1000;
        var toSecond = 0;
        for (var i = 0; i < total; i++)
        {
            using var response = await _f.PostAsync("v2/models/canary/infer", V2Json([1, 2, 3, 4]), key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (JsonNode.Parse(await response.Content.ReadAsStringAsync())!["model_version"]!.GetValue<string>() == "2")
                toSecond++;
        }
        // Binomial(1000, 0.2): mean 200, standard deviation 12.6; five deviations either side fails by chance once in ~3.5 million runs.
        Assert.InRange(toSecond, 200 - 63, 200 + 63);
    }

    private async Task<string> VersionAnsweringAsync(string endpoint, string key, IDictionary<string, string>? headers = null)
    {
        using var response = await _f.PostAsync($"v2/models/{endpoint}/infer", V2Json([1, 2, 3, 4]), key, headers);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["model_version"]!.GetValue<string>();
    }

    [Fact]
    public async Task A_sticky_header_keeps_each_caller_on_one_version_of_a_canary()
    {
        var (endpoint, key, first) = await DeployAsync("sticky", settings: new JsonObject { ["sticky_header"] = "X-User" });
        var second = await _f.AddVersionAsync(endpoint, await _f.RegisterModelAsync(new Mlp(4, 16, 3, seed: 5).ToOnnx()), weight: 1);
        await _f.WaitForReadyAsync("sticky", second, key);
        await ServingFixture.WaitForAsync(() => Task.FromResult(_f.Host.Watcher.Table.Find("sticky")!.Versions.Count(v => v.Weight > 0) == 2), "both weights");
        var seen = new HashSet<string>();
        for (var user = 0; user < 20; user++)
        {
            var headers = new Dictionary<string, string> { ["X-User"] = $"user-{user}" };
            var versions = new HashSet<string>();
            for (var i = 0; i < 5; i++)
                versions.Add(await VersionAnsweringAsync("sticky", key, headers));
            seen.Add(Assert.Single(versions));
        }
        // 20 callers at 50/50 all on one side: twice in a million runs.
        Assert.Equal(2, seen.Count);
        var bad = await Assert.ThrowsAsync<SlipwayException>(() => _f.Client.CallAsync("serving.update_endpoint", new JsonObject { ["endpoint"] = endpoint, ["sticky_header"] = "X User" }));
        Assert.Equal(400, bad.HttpStatus);
    }

    [Fact]
    public async Task A_shadow_version_gets_copies_whose_answers_are_recorded_and_never_returned()
    {
        var (endpoint, key, first) = await DeployAsync("shadowed");
        var candidate = await _f.AddVersionAsync(endpoint, await _f.RegisterModelAsync(new Mlp(4, 16, 3, seed: 5).ToOnnx()), weight: 1);
        await _f.Client.CallAsync("serving.set_shadow", new JsonObject { ["endpoint"] = endpoint, ["version"] = candidate, ["share"] = 1.0 });
        await _f.WaitForReadyAsync("shadowed", candidate, key);
        await ServingFixture.WaitForAsync(() => Task.FromResult(_f.Host.Watcher.Table.Find("shadowed")!.Shadows.Count == 1), "the shadow");
        // Copies beyond the host's bound in flight are dropped by design, which a loaded machine can reach even with one
        // caller, so the test sends until the shadow has answered 30 copies rather than counting on each one.
        var shadow = _f.Host.Watcher.Table.Find("shadowed")!.Find(candidate)!;
        for (var i = 0; i < 300 && shadow.Stats.Requests < 30; i++)
            Assert.Equal(first.ToString(CultureInfo.InvariantCulture), await VersionAnsweringAsync("shadowed", key));
        await ServingFixture.WaitForAsync(() => Task.FromResult(shadow.Stats.Requests >= 30), "30 copies answered by the shadow");
        Assert.Equal(0, shadow.Stats.Errors);
        Assert.Contains("slipway_serving_shadow_dropped_total", await _f.Http.GetStringAsync("metrics"));

        // Its own number still reaches it; a share of 0 gives it its weight back, and with no live version left it cannot shadow.
        using (var direct = await _f.PostAsync($"v2/models/shadowed/versions/{candidate}/infer", V2Json([1, 2, 3, 4]), key))
            Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
        await _f.Client.CallAsync("serving.set_shadow", new JsonObject { ["endpoint"] = endpoint, ["version"] = candidate, ["share"] = 0 });
        await ServingFixture.WaitForAsync(() => Task.FromResult(_f.Host.Watcher.Table.Find("shadowed")!.Shadows.Count == 0), "the shadow ended");
        var answered = new HashSet<string>();
        for (var i = 0; i < 40 && answered.Count < 2; i++)
            answered.Add(await VersionAnsweringAsync("shadowed", key));
        Assert.Equal(2, answered.Count);
        await _f.Client.CallAsync("serving.set_canary", new JsonObject { ["endpoint"] = endpoint, ["weights"] = new JsonObject { [first.ToString(CultureInfo.InvariantCulture)] = 0 } });
        var refused = await Assert.ThrowsAsync<SlipwayException>(() =>
            _f.Client.CallAsync("serving.set_shadow", new JsonObject { ["endpoint"] = endpoint, ["version"] = candidate, ["share"] = 0.5 }));
        Assert.Contains("no other version", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logged_requests_become_dataset_versions_the_next_training_run_can_get()
    {
        var dataset = $"log-{Guid.NewGuid():N}"[..16];
        var (_, key, version) = await DeployAsync("logged", settings: new JsonObject
        {
            ["request_log"] = new JsonObject { ["max_records"] = 10, ["max_seconds"] = 3600, ["project"] = "serving-tests", ["dataset"] = dataset },
        });
        for (var i = 0; i < 18; i++)
            (await _f.PostAsync("v2/models/logged/infer", V2Json([i, 2, 3, 4]), key)).Dispose();
        for (var i = 0; i < 2; i++)
            (await _f.PostAsync("v2/models/logged/infer", V2Json([1, 2, 3], shape: [1, 4]), key)).Dispose(); // refused: logged with its 400
        await ServingFixture.WaitForAsync(async () => (await _f.Client.Datasets.ListVersionsAsync("serving-tests", dataset)).Count(v => v.IsFinal) >= 2,
            "two request-log versions of 10 records");

        // Each version starts from the one before: the latest holds both batches.
        var copy = await _f.Client.Datasets.GetLocalCopyAsync((await _f.Client.Datasets.GetAsync("serving-tests", dataset)).Id,
            new Slipway.Client.Datasets.LocalCopyOptions { CacheDirectory = Path.Combine(Path.GetTempPath(), $"slipway-log-{Guid.NewGuid():N}") });
        var files = Directory.GetFiles(Path.Combine(copy.Path, "requests"), "*.jsonl");
        // Each file starts with its first record, not a byte order mark (which readers of JSON lines, Python's among them, refuse).
        Assert.All(files, f => Assert.Equal((byte)'{', File.ReadAllBytes(f)[0]));
        var records = files.SelectMany(File.ReadAllLines).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(20, records.Count);
        Assert.Equal(18, records.Count(r => r["status"]!.GetValue<int>() == 200));
        Assert.Equal(2, records.Count(r => r["status"]!.GetValue<int>() == 400));
        var first = records.First(r => r["input"]!["inputs"]![0]!["data"]![0]!.GetValue<float>() == 0);
        Assert.Equal(version, first["version"]!.GetValue<long>());
        Assert.Equal(_mlp.Compute([0, 2, 3, 4]), Outputs(first["output"]!), new Tolerance(1e-5f));
        Assert.True(first["latency_ms"]!.GetValue<double>() >= 0);
        Directory.Delete(copy.CachePath, true);
    }

    [Fact]
    public async Task Metrics_count_requests_per_version_and_the_server_keeps_their_history()
    {
        var (endpoint, key, _) = await DeployAsync("watched");
        // A second host of the same endpoints in this process: its meter has the same name, and it must not count the first's requests.
        await using var other = await ServingHost.StartAsync(new ServingOptions { Port = 0, PollInterval = TimeSpan.FromMilliseconds(100), CacheFolder = Path.Combine(_f.Folder, "other-cache") },
            _f.ClientOptions(), logging => logging.AddFilter(_ => false));
        await ServingFixture.WaitForAsync(() => Task.FromResult(other.Watcher.Table.Find("watched")?.Find(1)?.State == VersionState.Ready), "the second host's version");
        for (var i = 0; i < 5; i++)
            (await _f.PostAsync("v2/models/watched/infer", V2Json([1, 2, 3, 4]), key)).Dispose();
        (await _f.PostAsync("v2/models/watched/infer", V2Json([1, 2, 3], shape: [1, 4]), key)).Dispose();
        (await _f.PostAsync("v2/models/watched/infer", V2Json([1, 2, 3, 4]), "not-the-key")).Dispose();
        var metrics = await _f.Http.GetStringAsync("metrics");
        string[] watched = ["endpoint=\"watched\"", "version=\"1\""];
        Assert.Equal(6, Prometheus.Sample(metrics, "slipway_serving_requests_total", watched));
        Assert.Equal(1, Prometheus.Sample(metrics, "slipway_serving_errors_total", watched));
        Assert.Equal(6, Prometheus.Sample(metrics, "slipway_serving_request_seconds_count", watched));
        Assert.Equal(6, Prometheus.Sample(metrics, "slipway_serving_request_seconds_bucket", [.. watched, "le=\"+Inf\""]));
        Assert.Equal(17, Prometheus.Samples(metrics, "slipway_serving_request_seconds_bucket", watched).Count);
        Assert.Equal(1, Prometheus.Sample(metrics, "slipway_serving_version_ready", watched));
        Assert.Equal(1, Prometheus.Sample(metrics, "slipway_serving_refused_total", "endpoint=\"watched\"", "code=\"401\""));
        using (var otherHttp = new HttpClient { BaseAddress = other.Url })
        {
            var others = await otherHttp.GetStringAsync("metrics");
            Assert.Equal(0, Prometheus.Sample(others, "slipway_serving_requests_total", watched));
            Assert.Equal(1, Prometheus.Sample(others, "slipway_serving_version_ready", watched));
            Assert.Empty(Prometheus.Samples(others, "slipway_serving_request_seconds_count", watched));
            Assert.Empty(Prometheus.Samples(others, "slipway_serving_refused_total"));
        }
        await ServingFixture.WaitForAsync(async () =>
        {
            var history = await _f.Client.CallAsync("serving.get_endpoint_metrics_history", new JsonObject { ["endpoint"] = endpoint, ["metric_type"] = "requests", ["interval"] = 3600 });
            return history["values"]!.AsArray().Sum(v => v!.GetValue<double>()) >= 6;
        }, "the host's report of 6 requests");
    }

    [Fact]
    public async Task A_batching_endpoint_answers_each_concurrent_request_with_its_own_rows()
    {
        var (_, key, _) = await DeployAsync("batched", settings: new JsonObject { ["max_batch_size"] = 16, ["max_queue_delay_ms"] = 5 });
        var inputs = Enumerable.Range(0, 32).Select(i => new[] { i, -i, 0.5f * i, 1f }).ToArray();
        var answers = await Task.WhenAll(inputs.Select(async x =>
        {
            using var response = await _f.PostAsync("v2/models/batched/infer", V2Json(x), key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return Outputs(JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
        }));
        for (var i = 0; i < inputs.Length; i++)
            Assert.Equal(_mlp.Compute(inputs[i]), answers[i], new Tolerance(1e-5f));
    }
}
