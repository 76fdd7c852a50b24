using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

/// <summary>
/// The Python engine with real worker processes: a clearml-serving style Preprocess class (standard library only) deployed
/// behind endpoints and called over HTTP on loopback; workers killed mid-load and mid-request; errors in the user's code.
/// </summary>
public sealed class PythonEngineTests : IAsyncLifetime
{
    private static readonly double[] W = [0.5, -1, 2];
    private const double B = 0.25;
    private readonly ServingFixture _f = new();

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    private async Task<(string Endpoint, string Key, long Version)> DeployAsync(string name, JsonObject? modelExtra = null, bool waitReady = true, string code = PythonCode.Linear)
    {
        var model = await _f.RegisterFileAsync(PythonCode.Weights(W, B, modelExtra), "weights.json", name);
        var codeUri = await _f.UploadCodeAsync(code);
        var endpoint = await _f.CreateEndpointAsync(name);
        var version = await _f.AddPythonVersionAsync(endpoint, model, codeUri);
        var (_, key) = await _f.CreateKeyAsync(endpoint);
        if (waitReady)
            await _f.WaitForReadyAsync(name, version, key);
        return (endpoint, key, version);
    }

    private static string Body(double[] x, JsonObject? more = null)
    {
        var body = more ?? [];
        body["x"] = new JsonArray(x.Select(v => (JsonNode)v).ToArray());
        return body.ToJsonString();
    }

    private static double Linear(double[] x) => W.Zip(x, (w, v) => w * v).Sum() + B;

    private ServedVersion Served(string name) => _f.Host.Watcher.Versions.Single(v => v.EndpointName == name);

    /// <summary>Running: its /proc entry is there and it is not a zombie.</summary>
    private static bool Alive(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] != "Z";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [Fact]
    public async Task The_preprocess_contract_runs_unchanged_load_preprocess_process_postprocess_state_and_custom_statistics()
    {
        var (endpoint, key, version) = await DeployAsync("linear");
        double[] x = [1, 2, 3];

        // JSON body: a dict for preprocess(); load() got the downloaded model file; one instance serves every request.
        JsonNode first;
        using (var response = await _f.PostAsync("serve/linear", Body(x, new JsonObject { ["scale"] = 2, ["kind"] = "a" }), key))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            first = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }
        Assert.Equal(2 * Linear(x), first["y"]!.GetValue<double>(), 9);
        Assert.Equal("weights.json", first["file"]!.GetValue<string>());
        Assert.Equal("linear", first["endpoint"]!.GetValue<string>());
        Assert.Equal(version.ToString(CultureInfo.InvariantCulture), first["version"]!.GetValue<string>());
        using (var response = await _f.PostAsync($"serve/linear/{version}", Body([4, 0, -1]), key))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var second = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(Linear([4, 0, -1]), second["y"]!.GetValue<double>(), 9);
            Assert.Equal(first["requests"]!.GetValue<int>() + 1, second["requests"]!.GetValue<int>());
            Assert.Equal(1, second["instances"]!.GetValue<int>());
            Assert.Equal(first["pid"]!.GetValue<int>(), second["pid"]!.GetValue<int>());
        }

        // Raw bytes: preprocess() gets bytes.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "serve/linear"))
        {
            request.Content = new ByteArrayContent(new byte[7]);
            request.Content.Headers.ContentType = new("application/octet-stream");
            request.Headers.Authorization = new("Bearer", key);
            using var response = await _f.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(7, answer["raw"]!.GetValue<int>());
            Assert.Equal(0.5 * 7 + B, answer["y"]!.GetValue<double>(), 9);
        }

        // postprocess() returning bytes answers raw bytes.
        using (var response = await _f.PostAsync("serve/linear", Body(x, new JsonObject { ["raw_answer"] = true }), key))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal($"y={Linear(x).ToString(CultureInfo.InvariantCulture)}", await response.Content.ReadAsStringAsync());
        }

        // V2 JSON: the request is the body; an answer with outputs gets the protocol's fields.
        var v2 = new JsonObject
        {
            ["id"] = "q1",
            ["inputs"] = new JsonArray(new JsonObject { ["name"] = "x", ["datatype"] = "FP64", ["shape"] = new JsonArray(3), ["data"] = new JsonArray(1, 2, 3) }),
        };
        using (var response = await _f.PostAsync("v2/models/linear/infer", v2.ToJsonString(), key))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal("linear", answer["model_name"]!.GetValue<string>());
            Assert.Equal("q1", answer["id"]!.GetValue<string>());
            Assert.Equal(Linear(x), answer["outputs"]![0]!["data"]![0]!.GetValue<double>(), 9);
        }

        // Custom statistics: x0 and kind from the four JSON requests' preprocess(), y from three postprocess() calls; on the host's metrics, and reported to the server with the version's state.
        var metrics = await _f.Http.GetStringAsync("metrics");
        string[] linear = ["endpoint=\"linear\"", $"version=\"{version}\""];
        Assert.Equal(4, Prometheus.Sample(metrics, "slipway_serving_custom_count_total", [.. linear, "variable=\"x0\""]));
        Assert.Equal(7, Prometheus.Sample(metrics, "slipway_serving_custom_sum", [.. linear, "variable=\"x0\""]));
        Assert.Equal(1, Prometheus.Sample(metrics, "slipway_serving_custom_values_total", [.. linear, "variable=\"kind\"", "value=\"a\""]));
        Assert.Equal(3, Prometheus.Sample(metrics, "slipway_serving_custom_values_total", [.. linear, "variable=\"kind\"", "value=\"plain\""]));
        await ServingFixture.WaitForAsync(async () =>
        {
            var instances = await _f.InstancesAsync(endpoint, version);
            return instances.Any(i => i!["custom"]?["x0"]?["count"]?.GetValue<long>() == 4 && i["custom"]!["y"]!["count"]!.GetValue<long>() == 3);
        }, "the custom statistics in the host's report");
    }

    [Fact]
    public async Task A_metric_rule_samples_custom_statistics_by_its_log_frequency_and_measures_what_the_code_collected()
    {
        var (endpoint, key, _) = await DeployAsync("sampled");
        async Task RuleAsync(double frequency)
        {
            await _f.Client.CallAsync("serving.set_metric", new JsonObject
            {
                ["endpoint"] = endpoint, ["log_frequency"] = frequency,
                ["variables"] = new JsonObject { ["y"] = new JsonObject { ["type"] = "value" }, ["kind"] = new JsonObject { ["type"] = "enum", ["buckets"] = new JsonArray("a") } },
            });
            await ServingFixture.WaitForAsync(() => Task.FromResult(_f.Host.Watcher.Table.Find("sampled")?.Metrics.GetValueOrDefault("*")?.LogFrequency == frequency), "the host to have the rule");
        }

        // At 0 no request is sampled: the code's collect_custom_statistics_fn is None, as in clearml-serving.
        await RuleAsync(0);
        for (var i = 0; i < 3; i++)
        {
            using var response = await _f.PostAsync("serve/sampled", Body([1, 2, 3], new JsonObject { ["kind"] = "a" }), key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.True(Served("sampled").Custom.IsEmpty);
        Assert.Equal(0, Served("sampled").Metrics.Sampled);

        await RuleAsync(1);
        using (var response = await _f.PostAsync("serve/sampled", Body([1, 2, 3], new JsonObject { ["kind"] = "b" }), key))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(Served("sampled").Custom.IsEmpty);
        var metrics = await _f.Http.GetStringAsync("metrics");
        // y from the code's statistics, kind from the request (an unlisted value).
        string[] sampled = ["endpoint=\"sampled\"", "version=\"1\""];
        Assert.Equal(Linear([1, 2, 3]), Prometheus.Sample(metrics, "slipway_serving_metric_value", [.. sampled, "variable=\"y\""]), 9);
        Assert.Equal(1, Prometheus.Sample(metrics, "slipway_serving_metric_enum_total", [.. sampled, "variable=\"kind\"", "value=\"_other\""]));
    }

    [Fact]
    public async Task An_exception_in_the_code_answers_with_the_python_error_and_the_worker_keeps_serving()
    {
        var (_, key, _) = await DeployAsync("faulty");
        using (var response = await _f.PostAsync("serve/faulty", Body([1, 2, 3], new JsonObject { ["fail"] = "value" }), key))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            var detail = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>();
            Assert.Contains("ValueError", detail);
            Assert.Contains("x must have 3 numbers", detail);
            Assert.Contains("preprocess", detail);
        }
        using (var response = await _f.PostAsync("serve/faulty", Body([1, 2, 3], new JsonObject { ["fail"] = "zero" }), key))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            var detail = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>();
            Assert.Contains("ZeroDivisionError", detail);
            Assert.Contains("process", detail);
        }
        using (var response = await _f.PostAsync("serve/faulty", "{not json", key))
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var pid = Served("faulty").Worker!.ProcessId;
        using (var response = await _f.PostAsync("serve/faulty", Body([1, 2, 3]), key))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(pid, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["pid"]!.GetValue<int>());
        }
        Assert.Equal(1, Served("faulty").Worker!.Starts);
    }

    [Fact]
    public async Task Code_that_fails_to_load_marks_the_version_failed_with_the_python_error()
    {
        var (endpoint, key, version) = await DeployAsync("broken", new JsonObject { ["fail_load"] = "the file is truncated" }, waitReady: false);
        await ServingFixture.WaitForAsync(async () => (await _f.InstancesAsync(endpoint, version)).Any(i =>
            i!["state"]!.GetValue<string>() == "failed" && i["reason"]!.GetValue<string>().Contains("RuntimeError: cannot read weights: the file is truncated", StringComparison.Ordinal)),
            "the load failure in the host's report");
        using var response = await _f.PostAsync("serve/broken", Body([1, 2, 3]), key);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("cannot read weights", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_worker_killed_mid_load_is_restarted_reports_the_failure_and_other_endpoints_keep_serving()
    {
        var (_, otherKey, _) = await DeployAsync("steady");
        var gate = Path.Combine(_f.Folder, "gate");
        var loadingPid = Path.Combine(_f.Folder, "loading.pid");
        var (endpoint, key, version) = await DeployAsync("gated", new JsonObject { ["gate"] = gate, ["loading_pid"] = loadingPid }, waitReady: false);

        await ServingFixture.WaitForAsync(() => Task.FromResult(File.Exists(loadingPid)), "the worker to start loading");
        var first = int.Parse(await File.ReadAllTextAsync(loadingPid), CultureInfo.InvariantCulture);
        Process.GetProcessById(first).Kill();

        await ServingFixture.WaitForAsync(async () => (await _f.InstancesAsync(endpoint, version)).Any(i =>
            i!["state"]!.GetValue<string>() == "failed" && i["reason"]!.GetValue<string>().Contains("killed by signal 9", StringComparison.Ordinal)
            && i["reason"]!.GetValue<string>().Contains("while loading", StringComparison.Ordinal)),
            "the mid-load crash in the host's report");
        using (var steady = await _f.PostAsync("serve/steady", Body([1, 1, 1]), otherKey))
            Assert.Equal(HttpStatusCode.OK, steady.StatusCode);

        // The restarted worker loads again (and waits at the gate again); once the gate opens it serves.
        await ServingFixture.WaitForAsync(async () => File.Exists(loadingPid)
            && int.Parse(await File.ReadAllTextAsync(loadingPid), CultureInfo.InvariantCulture) != first, "the worker to be restarted");
        await File.WriteAllTextAsync(gate, "go");
        await _f.WaitForReadyAsync("gated", version, key);
        using var response = await _f.PostAsync("serve/gated", Body([1, 2, 3]), key);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Linear([1, 2, 3]), JsonNode.Parse(await response.Content.ReadAsStringAsync())!["y"]!.GetValue<double>(), 9);
        Assert.False(Alive(first));
        await ServingFixture.WaitForAsync(async () => (await _f.InstancesAsync(endpoint, version)).Any(i => i!["state"]!.GetValue<string>() == "ready"), "the ready state in the host's report");
    }

    [Fact]
    public async Task A_worker_killed_mid_request_fails_that_request_with_503_and_is_restarted()
    {
        var (_, otherKey, _) = await DeployAsync("steady");
        var servingPid = Path.Combine(_f.Folder, "serving.pid");
        var (endpoint, key, version) = await DeployAsync("crashy", new JsonObject { ["serving_pid"] = servingPid });

        var hanging = _f.PostAsync("serve/crashy", Body([1, 2, 3], new JsonObject { ["hang"] = true }), key);
        await ServingFixture.WaitForAsync(() => Task.FromResult(File.Exists(servingPid)), "the request to reach process()");
        var pid = int.Parse(await File.ReadAllTextAsync(servingPid), CultureInfo.InvariantCulture);
        Process.GetProcessById(pid).Kill();

        using (var failed = await hanging)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            var detail = JsonNode.Parse(await failed.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>();
            Assert.Contains("exited, killed by signal 9", detail);
        }
        using (var steady = await _f.PostAsync("serve/steady", Body([1, 1, 1]), otherKey))
            Assert.Equal(HttpStatusCode.OK, steady.StatusCode);
        await ServingFixture.WaitForAsync(async () => (await _f.InstancesAsync(endpoint, version)).Any(i =>
            i!["reason"]!.GetValue<string>().Contains("while serving", StringComparison.Ordinal)) || Served("crashy").Worker!.Starts > 1,
            "the crash to be seen");

        await _f.WaitForReadyAsync("crashy", version, key);
        using var response = await _f.PostAsync("serve/crashy", Body([1, 2, 3]), key);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.NotEqual(pid, answer["pid"]!.GetValue<int>());
        Assert.Equal(2, Served("crashy").Worker!.Starts);
        Assert.False(Alive(pid));
    }

    [Fact]
    public async Task A_request_over_the_time_limit_gets_504_and_its_worker_is_restarted()
    {
        var f = new ServingFixture(o => o.PythonRequestTimeout = TimeSpan.FromSeconds(2));
        try
        {
            await f.InitializeAsync();
            var servingPid = Path.Combine(f.Folder, "serving.pid");
            var model = await f.RegisterFileAsync(PythonCode.Weights(W, B, new JsonObject { ["serving_pid"] = servingPid }), "weights.json", "slow");
            var endpoint = await f.CreateEndpointAsync("slow");
            var version = await f.AddPythonVersionAsync(endpoint, model, await f.UploadCodeAsync(PythonCode.Linear));
            var (_, key) = await f.CreateKeyAsync(endpoint);
            await f.WaitForReadyAsync("slow", version, key);

            using (var slow = await f.PostAsync("serve/slow", Body([1, 2, 3], new JsonObject { ["hang"] = true }), key))
            {
                Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
                Assert.Contains("took longer than 2 s", await slow.Content.ReadAsStringAsync());
            }
            var stuck = int.Parse(await File.ReadAllTextAsync(servingPid), CultureInfo.InvariantCulture);
            await ServingFixture.WaitForAsync(() => Task.FromResult(!Alive(stuck)), "the stuck worker to be killed");
            await ServingFixture.WaitForAsync(async () => (await f.InstancesAsync(endpoint, version)).Any(i =>
                i!["reason"]!.GetValue<string>().Contains("a request took longer than 2 s", StringComparison.Ordinal))
                || f.Host.Watcher.Versions.Single().Worker!.Starts > 1, "the worker's restart");
            await ServingFixture.WaitForAsync(() => Task.FromResult(f.Host.Watcher.Versions.Single().Worker!.Starts > 1), "the worker's restart");
            await f.WaitForReadyAsync("slow", version, key);
            using var response = await f.PostAsync("serve/slow", Body([1, 2, 3]), key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.NotEqual(stuck, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["pid"]!.GetValue<int>());
        }
        finally
        {
            await f.DisposeAsync();
        }
    }

    [Fact]
    public async Task Removing_the_version_stops_its_worker_and_stopping_the_host_stops_the_rest()
    {
        var (endpoint, key, first) = await DeployAsync("swapped");
        var (_, otherKey, _) = await DeployAsync("kept");
        var old = Served("swapped").Worker!.ProcessId!.Value;
        var kept = Served("kept").Worker!.ProcessId!.Value;
        Assert.True(Alive(old) && Alive(kept));

        // A second version takes over; removing the first stops its worker once its requests are done.
        var model = await _f.RegisterFileAsync(PythonCode.Weights(W, B), "weights.json", "swapped");
        var second = await _f.AddPythonVersionAsync(endpoint, model, await _f.UploadCodeAsync(PythonCode.Linear));
        await _f.WaitForReadyAsync("swapped", second, key);
        await _f.Client.CallAsync("serving.remove_version", new JsonObject { ["endpoint"] = endpoint, ["version"] = first });
        await ServingFixture.WaitForAsync(() => Task.FromResult(!Alive(old)), "the removed version's worker to exit");
        var current = _f.Host.Watcher.Versions.Single(v => v.EndpointName == "swapped");
        Assert.Equal(second, current.Number);
        var newer = current.Worker!.ProcessId!.Value;
        using (var response = await _f.PostAsync("serve/swapped", Body([1, 2, 3]), key))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(newer, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["pid"]!.GetValue<int>());
        }
        using (var response = await _f.PostAsync("serve/kept", Body([1, 2, 3]), otherKey))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await _f.Host.DisposeAsync();
        Assert.False(Alive(kept));
        Assert.False(Alive(newer));
    }
}
