using System.Net;
using System.Text.Json.Nodes;
using Slipway.Client;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

/// <summary>
/// Metric rules (clearml-serving's <c>metrics add</c>): kept by serving.set_metric / remove_metric with clear refusals, and
/// measured by a real host on the requests it answers, visible on its /metrics.
/// </summary>
public sealed class MetricRuleTests : IAsyncLifetime
{
    private readonly ServingFixture _f = new();
    private readonly Mlp _mlp = new(4, 8, 2, seed: 3);

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    private Task SetAsync(string endpoint, JsonObject variables, double? frequency = null, long? version = null)
    {
        var body = new JsonObject { ["endpoint"] = endpoint, ["variables"] = variables };
        if (frequency is { } f)
            body["log_frequency"] = f;
        if (version is { } v)
            body["version"] = v;
        return _f.Client.CallAsync("serving.set_metric", body);
    }

    private static JsonObject Scalar(params double[] bounds) => new() { ["type"] = "scalar", ["buckets"] = new JsonArray(bounds.Select(b => (JsonNode)b).ToArray()) };

    private async Task<JsonObject> MetricsOfAsync(string endpoint) =>
        (JsonObject)(await _f.Client.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["metrics"]!;

    [Fact]
    public async Task Rules_merge_variables_per_version_and_bad_rules_are_refused_with_the_reason()
    {
        var model = await _f.RegisterModelAsync(_mlp.ToOnnx());
        var endpoint = await _f.CreateEndpointAsync("rules");
        await _f.AddVersionAsync(endpoint, model);

        await SetAsync(endpoint, new JsonObject { ["input"] = Scalar(1, 0) }, frequency: 0.5);
        await SetAsync(endpoint, new JsonObject { ["animal"] = new JsonObject { ["type"] = "enum", ["buckets"] = new JsonArray("cat", "dog") } });
        await SetAsync(endpoint, new JsonObject { ["total"] = new JsonObject { ["type"] = "counter" } }, version: 1);
        var metrics = await MetricsOfAsync(endpoint);
        Assert.Equal(0.5, metrics["*"]!["log_frequency"]!.GetValue<double>());
        Assert.Equal(["input", "animal"], metrics["*"]!["variables"]!.AsObject().Select(p => p.Key));
        Assert.Equal([0.0, 1.0], metrics["*"]!["variables"]!["input"]!["buckets"]!.AsArray().Select(b => b!.GetValue<double>()));
        Assert.Equal("counter", metrics["1"]!["variables"]!["total"]!["type"]!.GetValue<string>());

        async Task<string> Refused(JsonObject variables, double? frequency = null, long? version = null)
        {
            var e = await Assert.ThrowsAsync<SlipwayException>(() => SetAsync(endpoint, variables, frequency, version));
            Assert.Equal(400, e.HttpStatus);
            return e.Message;
        }
        Assert.Contains("type must be one of scalar, enum, value, counter", await Refused(new JsonObject { ["x"] = new JsonObject { ["type"] = "histogram" } }));
        Assert.Contains("needs its bucket bounds", await Refused(new JsonObject { ["x"] = new JsonObject { ["type"] = "scalar" } }));
        Assert.Contains("buckets are numbers", await Refused(new JsonObject { ["x"] = new JsonObject { ["type"] = "scalar", ["buckets"] = new JsonArray("low") } }));
        Assert.Contains("log_frequency must be between 0 and 1", await Refused(new JsonObject { ["x"] = Scalar(1) }, frequency: 2));
        Assert.Contains("has no version 9", await Refused(new JsonObject { ["x"] = Scalar(1) }, version: 9));

        var removed = await _f.Client.CallAsync("serving.remove_metric", new JsonObject { ["endpoint"] = endpoint, ["variables"] = new JsonArray("animal") });
        Assert.Equal(1, removed["removed"]!.GetValue<int>());
        Assert.Equal(["input"], (await MetricsOfAsync(endpoint))["*"]!["variables"]!.AsObject().Select(p => p.Key));
        await _f.Client.CallAsync("serving.remove_metric", new JsonObject { ["endpoint"] = endpoint, ["version"] = 1 });
        Assert.Null((await MetricsOfAsync(endpoint))["1"]);
        var missing = await Assert.ThrowsAsync<SlipwayException>(() => _f.Client.CallAsync("serving.remove_metric", new JsonObject { ["endpoint"] = endpoint, ["version"] = 1 }));
        Assert.Equal(400, missing.HttpStatus);
    }

    [Fact]
    public async Task The_host_measures_request_and_answer_fields_of_sampled_requests_on_its_metrics_page()
    {
        var model = await _f.RegisterModelAsync(_mlp.ToOnnx());
        var endpoint = await _f.CreateEndpointAsync("measured");
        var version = await _f.AddVersionAsync(endpoint, model);
        var (_, key) = await _f.CreateKeyAsync(endpoint);
        // clearml-serving's body: {"input": rows}; the answer is {"output": rows}. Each element of a list counts once.
        await SetAsync(endpoint, new JsonObject
        {
            ["input"] = Scalar(0, 1),
            ["output"] = new JsonObject { ["type"] = "counter" },
        });
        await _f.WaitForReadyAsync("measured", version, key);
        await ServingFixture.WaitForAsync(async () => (await _f.Http.GetStringAsync("metrics")).Contains("measured", StringComparison.Ordinal), "the host to serve it");
        await ServingFixture.WaitForAsync(() => Task.FromResult(_f.Host.Watcher.Table.Find("measured")?.Metrics.Count == 1), "the host to have the rule");

        float[][] rows = [[-1, 0.5f, 2, 0.5f], [0, 0, 3, 1]];
        var expectedOutput = _mlp.Compute([.. rows.SelectMany(r => r)]).Sum(v => (double)v);
        var body = new JsonObject { ["input"] = new JsonArray(rows.Select(r => (JsonNode)new JsonArray(r.Select(v => (JsonNode)v).ToArray())).ToArray()) }.ToJsonString();
        for (var i = 0; i < 5; i++)
        {
            using var answer = await _f.PostAsync("serve/measured", body, key);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        var text = await _f.Http.GetStringAsync("metrics");
        var labels = "endpoint=\"measured\",version=\"1\",variable=\"input\"";
        string[] measured = ["endpoint=\"measured\"", "version=\"1\""];
        Assert.Equal(5, Prometheus.Sample(text, "slipway_serving_metric_sampled_total", measured));
        // Per request: -1, 0 and 0 are <= 0 (3); 0.5, 0.5 and 1 are <= 1 (3 more); 2 and 3 are above (2 more).
        Assert.Contains($"slipway_serving_metric_scalar_bucket{{{labels},le=\"0\"}} 15\n", text);
        Assert.Contains($"slipway_serving_metric_scalar_bucket{{{labels},le=\"1\"}} 30\n", text);
        Assert.Contains($"slipway_serving_metric_scalar_bucket{{{labels},le=\"+Inf\"}} 40\n", text);
        Assert.Equal(5 * expectedOutput, Prometheus.Sample(text, "slipway_serving_metric_counter_total", [.. measured, "variable=\"output\""]), 3);

        // A frequency of 0 measures nothing from then on.
        await SetAsync(endpoint, [], frequency: 0);
        await ServingFixture.WaitForAsync(() => Task.FromResult(_f.Host.Watcher.Table.Find("measured")?.Metrics["*"].LogFrequency == 0), "the host to have the new frequency");
        using (var answer = await _f.PostAsync("serve/measured", body, key))
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(5, Prometheus.Sample(await _f.Http.GetStringAsync("metrics"), "slipway_serving_metric_sampled_total", measured));
    }
}
