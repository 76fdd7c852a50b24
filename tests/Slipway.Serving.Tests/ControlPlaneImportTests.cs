using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Serving.Tests;

/// <summary>
/// clearml-serving's control plane on a real server: a "serving service" task whose configuration objects hold endpoints,
/// auto-update rules, canaries and metric rules (HOCON, as the SDK writes them) becomes Slipway endpoints of the same names.
/// The tasks are made through the API the way the clearml-serving CLI makes them (tasks.create, tasks.edit_configuration).
/// </summary>
public sealed class ControlPlaneImportTests : IAsyncLifetime
{
    private readonly TestServer _testServer = new();
    private SlipwayClient _admin = null!;

    public async Task InitializeAsync()
    {
        await _testServer.InitializeAsync();
        var options = _testServer.Options();
        // No retries: a refused call is the answer under test.
        options.MaxRetries = 0;
        _admin = new SlipwayClient(options);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _testServer.DisposeAsync();
    }

    private async Task<string> ServiceAsync(params (string Name, string Value)[] configuration)
    {
        var task = (await _admin.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = "Serving Service", ["type"] = "service", ["system_tags"] = new JsonArray("serving-control-plane"),
        }))["id"]!.GetValue<string>();
        await ConfigureAsync(task, configuration);
        return task;
    }

    private Task ConfigureAsync(string task, params (string Name, string Value)[] configuration) =>
        _admin.CallAsync("tasks.edit_configuration", new JsonObject
        {
            ["task"] = task,
            ["configuration"] = new JsonArray(configuration.Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["value"] = c.Value, ["type"] = "dictionary" }).ToArray()),
        });

    private async Task<string> ModelAsync(string name, string? project = null, bool published = false)
    {
        var body = new JsonObject { ["name"] = name, ["uri"] = $"http://127.0.0.1:1/files/{Guid.NewGuid():N}.onnx", ["framework"] = "ONNX" };
        if (project is not null)
            body["project"] = project;
        var id = (await _admin.CallAsync("models.create", body))["id"]!.GetValue<string>();
        if (published)
            await _admin.CallAsync("models.set_ready", new JsonObject { ["model"] = id });
        return id;
    }

    private async Task<Dictionary<string, JsonObject>> EndpointsAsync() =>
        (await _admin.CallAsync("serving.get_endpoints", new JsonObject()))["endpoints"]!.AsArray().OfType<JsonObject>()
            .ToDictionary(e => e["name"]!.GetValue<string>());

    private async Task<JsonObject> ReportAsync(string task) =>
        (await _admin.CallAsync("serving.get_control_planes", new JsonObject()))["control_planes"]!.AsArray().OfType<JsonObject>()
            .Single(p => p["task"]!.GetValue<string>() == task);

    private static List<(long Version, string Model, double Weight)> Versions(JsonObject endpoint) =>
        [.. endpoint["versions"]!.AsArray().Select(v => (v!["version"]!.GetValue<long>(), v["model"]!.GetValue<string>(), v["weight"]!.GetValue<double>()))];

    private static string Endpoint(string url, string name, string model, string version = "", string engine = "triton", string extra = "") => $$"""
        {{url}} {
          engine_type = "{{engine}}"
          serving_url = "{{name}}"
          model_id = "{{model}}"
          version = "{{version}}"
          input_size = [[1, 4]]
          input_type = ["float32"]
          input_name = ["x"]
          {{extra}}
        }
        """;

    [Fact]
    public async Task Added_endpoints_are_served_under_their_names_and_versions_with_their_metric_rules()
    {
        var m1 = await ModelAsync("scorer");
        var m2 = await ModelAsync("scorer");
        var task = await ServiceAsync(
            ("endpoints", Endpoint("scale/1", "scale", m1, "1") + "\n" + Endpoint("scale/2", "scale", m2, "2") + "\n" + Endpoint("plain", "plain", m1)),
            ("metric_logging", """
                "scale/*" {
                  endpoint = "scale/*"
                  log_frequency = 0.25
                  metrics {
                    x { type = "scalar", buckets = [1, 0, 0.5] }
                    animal { type = "enum", buckets = ["cat", "dog"] }
                    score { type = "value", buckets = null }
                  }
                }
                """));

        var endpoints = await EndpointsAsync();
        var scale = endpoints["scale"];
        // The newest version takes the traffic of /serve/scale; each is reachable by its number.
        Assert.Equal([(1L, m1, 0.0), (2L, m2, 1.0)], Versions(scale));
        Assert.All(scale["versions"]!.AsArray(), v => Assert.Equal("onnx", v!["engine"]!.GetValue<string>()));
        Assert.Equal("x", scale["versions"]![0]!["inputs"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(task, scale["control_plane"]!.GetValue<string>());
        var rule = scale["metrics"]!["*"]!;
        Assert.Equal(0.25, rule["log_frequency"]!.GetValue<double>());
        Assert.Equal([0.0, 0.5, 1.0], rule["variables"]!["x"]!["buckets"]!.AsArray().Select(b => b!.GetValue<double>()));
        Assert.Equal(["cat", "dog"], rule["variables"]!["animal"]!["buckets"]!.AsArray().Select(b => b!.GetValue<string>()));
        Assert.Equal("value", rule["variables"]!["score"]!["type"]!.GetValue<string>());
        // An endpoint added without --version is version 0: /serve/plain reaches it.
        Assert.Equal([(0L, m1, 1.0)], Versions(endpoints["plain"]));
        Assert.Empty((await ReportAsync(task))["rejected"]!.AsArray());

        // The host's configuration carries them like any endpoint.
        var hostConfig = await _admin.CallAsync("serving.get_host_config", new JsonObject());
        Assert.Contains(hostConfig["endpoints"]!.AsArray(), e => e!["name"]!.GetValue<string>() == "scale" && e["metrics"] is JsonObject);
    }

    [Fact]
    public async Task A_python_engine_endpoint_runs_the_preprocess_code_uploaded_as_the_service_tasks_artifact()
    {
        var model = await ModelAsync("classifier");
        var task = await ServiceAsync(
            ("endpoints", Endpoint("sk/1", "sk", model, "1", engine: "sklearn", extra: "preprocess_artifact = \"py_code_sk_1\"")));
        Assert.Contains("py_code_sk_1", (await ReportAsync(task))["rejected"]!.AsArray().Single()!["reason"]!.GetValue<string>());

        // The CLI uploads the code and records it as an artifact of the service task, which is a change of the task.
        await _admin.CallAsync("tasks.add_or_update_artifacts", new JsonObject
        {
            ["task"] = task, ["force"] = true,
            ["artifacts"] = new JsonArray(new JsonObject { ["key"] = "py_code_sk_1", ["type"] = "custom", ["uri"] = "http://127.0.0.1:1/files/serving/py_code_sk_1/preprocess.py" }),
        });
        var version = (await EndpointsAsync())["sk"]["versions"]!.AsArray().Single()!;
        Assert.Equal("python", version["engine"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:1/files/serving/py_code_sk_1/preprocess.py", version["preprocess_uri"]!.GetValue<string>());
        Assert.Empty((await ReportAsync(task))["rejected"]!.AsArray());
    }

    [Fact]
    public async Task Names_and_settings_Slipway_cannot_serve_are_reported_with_the_reason_and_the_rest_is_imported()
    {
        var model = await ModelAsync("scorer");
        var native = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "taken" }))["id"]!.GetValue<string>();
        var task = await ServiceAsync(
            ("endpoints", string.Join("\n",
                Endpoint("good/1", "good", model, "1"),
                Endpoint("\"team/detect/1\"", "team/detect", model, "1"),
                Endpoint("llm/1", "llm", model, "1", engine: "vllm"),
                Endpoint("named/v2", "named", model, "v2"),
                Endpoint("sk/1", "sk", model, "1", engine: "sklearn"),
                Endpoint("taken/1", "taken", model, "1"))),
            ("canary", "broken { endpoint = \"broken\", weights = [0.5], load_endpoints = [\"good/1\", \"good/2\"] }"),
            ("metric_logging", "nowhere { endpoint = \"nowhere/1\", metrics { x { type = \"scalar\", buckets = [1] } } }"));

        var endpoints = await EndpointsAsync();
        Assert.Contains("good", endpoints.Keys);
        Assert.DoesNotContain("llm", endpoints.Keys);
        Assert.DoesNotContain("sk", endpoints.Keys);
        // The Slipway endpoint that had the name first keeps it, untouched.
        Assert.Equal(native, endpoints["taken"]["id"]!.GetValue<string>());
        Assert.Empty(endpoints["taken"]["versions"]!.AsArray());

        var rejected = (await ReportAsync(task))["rejected"]!.AsArray().ToDictionary(r => r!["name"]!.GetValue<string>(), r => r!["reason"]!.GetValue<string>());
        Assert.Contains("no '/'", rejected["team/detect/1"]);
        Assert.Contains("vllm", rejected["llm/1"]);
        Assert.Contains("whole number", rejected["named/v2"]);
        Assert.Contains("preprocess", rejected["sk/1"]);
        Assert.Contains("taken by a Slipway endpoint", rejected["taken"]);
        Assert.Contains("1 weights for 2 endpoints", rejected["broken"]);
        Assert.Contains("nowhere/1", rejected["nowhere"]);
    }

    [Fact]
    public async Task Auto_update_serves_the_newest_matching_models_and_a_prefix_canary_follows_new_versions_newest_first()
    {
        var project = (await _admin.CallAsync("projects.create", new JsonObject { ["name"] = "serving examples" }))["id"]!.GetValue<string>();
        var old = await ModelAsync("train model", project);
        var current = await ModelAsync("train model", project);
        await ModelAsync("train model");            // another project: not followed
        await ModelAsync("other model", project);   // another name: not followed
        var task = await ServiceAsync(
            ("model_monitoring", """
                auto {
                  base_serving_url = "auto"
                  engine_type = "triton"
                  monitor_project = "serving examples"
                  monitor_name = "train model"
                  monitor_tags = []
                  only_published = false
                  max_versions = 2
                }
                """),
            ("canary", """
                auto_canary {
                  endpoint = "auto_canary"
                  weights = [0.1, 0.9]
                  load_endpoints = []
                  load_endpoint_prefix = "auto/"
                }
                """));

        var endpoints = await EndpointsAsync();
        Assert.Equal([(1L, old, 0.0), (2L, current, 1.0)], Versions(endpoints["auto"]));
        Assert.Equal(project, endpoints["auto"]["auto_update"]!["project"]!.GetValue<string>());
        // The first weight goes to the newest version under the prefix.
        Assert.Equal([(1L, current, 0.1), (2L, old, 0.9)], Versions(endpoints["auto_canary"]));

        // A model registered later is pushed in by the server's auto-update; the oldest goes, and the canary follows.
        var newest = await ModelAsync("train model", project);
        endpoints = await EndpointsAsync();
        Assert.Equal([(2L, current, 0.0), (3L, newest, 1.0)], Versions(endpoints["auto"]));
        Assert.Equal([(1L, newest, 0.1), (2L, current, 0.9)], Versions(endpoints["auto_canary"]));
        Assert.Empty((await ReportAsync(task))["rejected"]!.AsArray());
    }

    [Fact]
    public async Task A_task_is_read_again_only_when_it_changes_and_its_endpoints_go_with_it()
    {
        var model = await ModelAsync("scorer");
        var task = await ServiceAsync(("endpoints", Endpoint("scale/1", "scale", model, "1")));
        await EndpointsAsync();
        // The import's own writes are seen once; from then on hosts' polls reuse it.
        await _admin.CallAsync("serving.get_host_config", new JsonObject());
        var imported = (await ReportAsync(task))["imported"]!.GetValue<string>();
        var revision = (await _admin.CallAsync("serving.get_host_config", new JsonObject()))["revision"]!.GetValue<string>();
        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(5);
            Assert.Equal(revision, (await _admin.CallAsync("serving.get_host_config", new JsonObject()))["revision"]!.GetValue<string>());
        }
        Assert.Equal(imported, (await ReportAsync(task))["imported"]!.GetValue<string>());

        await ConfigureAsync(task, ("endpoints", Endpoint("scale/1", "scale", model, "1") + "\n" + Endpoint("scale/2", "scale", model, "2")));
        Assert.NotEqual(revision, (await _admin.CallAsync("serving.get_host_config", new JsonObject()))["revision"]!.GetValue<string>());
        Assert.NotEqual(imported, (await ReportAsync(task))["imported"]!.GetValue<string>());
        Assert.Equal([1L, 2L], Versions((await EndpointsAsync())["scale"]).Select(v => v.Version));

        // Versions are clearml-serving's to change; keys stay Slipway's.
        var scale = (await EndpointsAsync())["scale"]["id"]!.GetValue<string>();
        var refused = await Assert.ThrowsAsync<SlipwayException>(() => _admin.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = scale, ["model"] = model }));
        Assert.Equal(400, refused.ResultCode);
        Assert.Contains("clearml-serving", refused.Message);
        await _admin.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = scale });

        await _admin.CallAsync("tasks.delete", new JsonObject { ["task"] = task, ["force"] = true });
        Assert.DoesNotContain("scale", (await EndpointsAsync()).Keys);
    }
}
