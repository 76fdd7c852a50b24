using System.Text.Json.Nodes;
using Slipway.Client;
using Slipway.Server;

namespace Slipway.Serving.Tests;

/// <summary>serving.* on a real server: what is kept, and how bad input and other users' models are refused.</summary>
public sealed class ServingApiTests : IAsyncLifetime
{
    private readonly TestServer _testServer = new();
    private SlipwayServer _server = null!;
    private SlipwayClient _admin = null!;

    public async Task InitializeAsync()
    {
        await _testServer.InitializeAsync();
        _server = _testServer.Server;
        _admin = Client(_server.NewAdmin!.AccessKey, _server.NewAdmin!.SecretKey);
    }

    private SlipwayClient Client(string key, string secret) => new(new ClientOptions
    {
        ApiServer = _server.ApiUrl, FilesServer = _server.FilesUrl, WebServer = _server.WebUrl, AccessKey = key, SecretKey = secret, MaxRetries = 0,
    });

    private static async Task<string> ModelAsync(SlipwayClient client, string? project = null)
    {
        var body = new JsonObject { ["name"] = "m", ["uri"] = "http://127.0.0.1:1/files/m.onnx" };
        if (project is not null)
            body["project"] = project;
        return (await client.CallAsync("models.create", body))["id"]!.GetValue<string>();
    }

    private static async Task<SlipwayException> Refused(Task call) => await Assert.ThrowsAsync<SlipwayException>(() => call);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_request_log_is_turned_off_by_null_as_by_false(bool byNull)
    {
        var endpoint = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "logged", ["request_log"] = new JsonObject { ["sample"] = 0.5 } }))["id"]!.GetValue<string>();
        Assert.Equal(0.5, (await _admin.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["request_log"]!["sample"]!.GetValue<double>());
        await _admin.CallAsync("serving.update_endpoint", new JsonObject { ["endpoint"] = endpoint, ["request_log"] = byNull ? null : false });
        Assert.Null((await _admin.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["request_log"]);
        // An update that does not name it leaves it alone.
        await _admin.CallAsync("serving.update_endpoint", new JsonObject { ["endpoint"] = endpoint, ["request_log"] = new JsonObject { ["sample"] = 0.1 } });
        await _admin.CallAsync("serving.update_endpoint", new JsonObject { ["endpoint"] = endpoint, ["public"] = true });
        Assert.Equal(0.1, (await _admin.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["request_log"]!["sample"]!.GetValue<double>());
    }

    [Fact]
    public async Task An_endpoint_keeps_its_versions_weights_and_keys_but_never_a_key_itself()
    {
        var model = await ModelAsync(_admin);
        var endpoint = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "scorer", ["max_batch_size"] = 8 }))["id"]!.GetValue<string>();
        await _admin.CallAsync("serving.add_version", new JsonObject
        {
            ["endpoint"] = endpoint, ["model"] = model,
            ["inputs"] = new JsonArray(new JsonObject { ["name"] = "input", ["datatype"] = "FP32", ["shape"] = new JsonArray(-1, 4) }),
        });
        await _admin.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["weight"] = 0.25 });
        await _admin.CallAsync("serving.set_canary", new JsonObject { ["endpoint"] = endpoint, ["weights"] = new JsonObject { ["1"] = 0.75 } });
        var key = (await _admin.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = endpoint }))["key"]!.GetValue<string>();
        Assert.StartsWith("slw_", key);

        var listed = (await _admin.CallAsync("serving.get_endpoints", new JsonObject()))["endpoints"]!.AsArray().Single()!;
        Assert.Equal("scorer", listed["name"]!.GetValue<string>());
        Assert.Equal([0.75, 0.25], listed["versions"]!.AsArray().Select(v => v!["weight"]!.GetValue<double>()));
        Assert.Equal(8, listed["max_batch_size"]!.GetValue<long>());
        Assert.DoesNotContain(key, listed.ToJsonString());
        Assert.DoesNotContain("hash", listed.ToJsonString());

        var host = await _admin.CallAsync("serving.get_host_config", new JsonObject());
        var hostView = host["endpoints"]!.AsArray().Single()!;
        Assert.Equal(ServingApiHash(key), hostView["keys"]![0]!["hash"]!.GetValue<string>());
        Assert.DoesNotContain(key, host.ToJsonString());
        Assert.Equal("http://127.0.0.1:1/files/m.onnx", hostView["versions"]![0]!["model_uri"]!.GetValue<string>());

        await _admin.CallAsync("serving.remove_version", new JsonObject { ["endpoint"] = endpoint, ["version"] = 1 });
        var revised = await _admin.CallAsync("serving.get_host_config", new JsonObject());
        Assert.NotEqual(host["revision"]!.GetValue<string>(), revised["revision"]!.GetValue<string>());
        await _admin.CallAsync("serving.delete_endpoint", new JsonObject { ["endpoint"] = endpoint });
        Assert.Empty((await _admin.CallAsync("serving.get_endpoints", new JsonObject()))["endpoints"]!.AsArray());
    }

    private static string ServingApiHash(string key) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));

    [Fact]
    public async Task Bad_input_gets_a_clear_4xx()
    {
        var model = await ModelAsync(_admin);
        var endpoint = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "e1" }))["id"]!.GetValue<string>();
        await _admin.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model });
        var cases = new (string Endpoint, JsonObject Body, string Message)[]
        {
            ("serving.create_endpoint", new JsonObject { ["name"] = "has space" }, "endpoint name"),
            ("serving.create_endpoint", new JsonObject { ["name"] = "e1" }, "already exists"),
            ("serving.create_endpoint", new JsonObject { ["name"] = "e2", ["max_batch_size"] = 0 }, "max_batch_size"),
            ("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = "no-such-model" }, "Invalid model id"),
            ("serving.add_version", new JsonObject { ["endpoint"] = "no-such-endpoint", ["model"] = model }, "Invalid endpoint id"),
            ("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["engine"] = "tensorrt" }, "not supported"),
            ("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["weight"] = -1 }, "weight"),
            ("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["engine"] = "python" }, "preprocess_uri"),
            ("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["engine"] = "python", ["preprocess_uri"] = "ftp://x/p.py" }, "preprocess_uri"),
            ("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["requirements"] = "numpy" }, "python engine only"),
            ("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["inputs"] = new JsonArray(new JsonObject { ["name"] = "x", ["datatype"] = "FLOAT" }) }, "datatype"),
            ("serving.set_canary", new JsonObject { ["endpoint"] = endpoint, ["weights"] = new JsonObject { ["7"] = 1 } }, "no version 7"),
            ("serving.set_canary", new JsonObject { ["endpoint"] = endpoint, ["weights"] = new JsonObject { ["1"] = 0 } }, "above 0"),
            ("serving.remove_version", new JsonObject { ["endpoint"] = endpoint, ["version"] = 9 }, "no version 9"),
            ("serving.revoke_key", new JsonObject { ["endpoint"] = endpoint, ["key_id"] = "nope" }, "Invalid key id"),
            ("serving.container_status_report", new JsonObject { ["container_id"] = "c1" }, "endpoint_url"),
            ("serving.get_endpoint_metrics_history", new JsonObject { ["endpoint"] = endpoint, ["metric_type"] = "mood" }, "metric_type"),
        };
        foreach (var (name, body, message) in cases)
        {
            var refused = await Refused(_admin.CallAsync(name, body));
            Assert.True(refused.HttpStatus is >= 400 and < 500, $"{name}: {refused.HttpStatus}");
            Assert.Contains(message, refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_version_needs_a_model_the_caller_may_read_and_an_endpoint_only_its_owner_changes()
    {
        var project = (await _admin.CallAsync("projects.create", new JsonObject { ["name"] = "private" }))["id"]!.GetValue<string>();
        var privateModel = await ModelAsync(_admin, project);
        var user = (await _admin.CallAsync("users.create", new JsonObject { ["name"] = "member", ["role"] = "member" }))["id"]!.GetValue<string>();
        var credentials = (await _admin.CallAsync("auth.create_credentials", new JsonObject { ["user"] = user }))["credentials"]!;
        using var member = Client(credentials["access_key"]!.GetValue<string>(), credentials["secret_key"]!.GetValue<string>());
        var theirs = (await member.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "theirs" }))["id"]!.GetValue<string>();

        var hidden = await Refused(member.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = theirs, ["model"] = privateModel }));
        Assert.Contains("Invalid model id", hidden.Message, StringComparison.Ordinal);
        await member.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = theirs, ["model"] = await ModelAsync(member) });

        var adminsEndpoint = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "admins" }))["id"]!.GetValue<string>();
        Assert.Equal(403, (await Refused(member.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = adminsEndpoint }))).HttpStatus);
        Assert.Equal(403, (await Refused(member.CallAsync("serving.delete_endpoint", new JsonObject { ["endpoint"] = adminsEndpoint }))).HttpStatus);
        Assert.Equal(2, (await member.CallAsync("serving.get_endpoints", new JsonObject()))["endpoints"]!.AsArray().Count);
        // The host config a member's host reads leaves out the file of a model it may not read.
        await _admin.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = adminsEndpoint, ["model"] = privateModel });
        var seen = (await member.CallAsync("serving.get_host_config", new JsonObject()))["endpoints"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "admins")!;
        Assert.Equal("", seen["versions"]![0]!["model_uri"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_published_model_matching_the_rule_becomes_the_newest_version_and_the_oldest_beyond_keep_goes()
    {
        var endpoint = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "auto" }))["id"]!.GetValue<string>();
        await _admin.CallAsync("serving.set_auto_update", new JsonObject
        {
            ["endpoint"] = endpoint, ["model_name"] = "scorer", ["tags"] = new JsonArray("prod"), ["published"] = true, ["keep"] = 2,
        });
        async Task<string> Publish(string name, params string[] tags)
        {
            var id = (await _admin.CallAsync("models.create", new JsonObject
            {
                ["name"] = name, ["uri"] = "http://127.0.0.1:1/files/m.onnx", ["tags"] = new JsonArray(tags.Select(t => (JsonNode)t).ToArray()),
            }))["id"]!.GetValue<string>();
            await _admin.CallAsync("models.set_ready", new JsonObject { ["model"] = id, ["publish_task"] = false });
            return id;
        }
        async Task<List<(string Model, double Weight)>> Versions() =>
            (await _admin.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["versions"]!.AsArray()
            .Select(v => (v!["model"]!.GetValue<string>(), v["weight"]!.GetValue<double>())).ToList();

        var first = await Publish("scorer", "prod");
        Assert.Equal([(first, 1.0)], await Versions());
        await Publish("scorer");             // no "prod" tag
        await Publish("other", "prod");      // another name
        var unpublished = (await _admin.CallAsync("models.create", new JsonObject
        {
            ["name"] = "scorer", ["uri"] = "http://127.0.0.1:1/files/m.onnx", ["tags"] = new JsonArray("prod"),
        }))["id"]!.GetValue<string>();
        Assert.Equal([(first, 1.0)], await Versions());
        var second = await Publish("scorer", "prod");
        var third = await Publish("scorer", "prod");
        Assert.Equal([(second, 0.0), (third, 1.0)], await Versions());
        Assert.DoesNotContain(unpublished, (await Versions()).Select(v => v.Model));
        var refused = await Refused(_admin.CallAsync("serving.set_auto_update", new JsonObject { ["endpoint"] = endpoint }));
        Assert.Contains("model_name, project or tags", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_auto_update_rule_with_the_python_engine_binds_its_code_to_each_version_it_adds()
    {
        var endpoint = (await _admin.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "auto-py" }))["id"]!.GetValue<string>();
        var refused = await Refused(_admin.CallAsync("serving.set_auto_update", new JsonObject { ["endpoint"] = endpoint, ["model_name"] = "ranker", ["engine"] = "python" }));
        Assert.Contains("preprocess_uri", refused.Message, StringComparison.Ordinal);
        await _admin.CallAsync("serving.set_auto_update", new JsonObject
        {
            ["endpoint"] = endpoint, ["model_name"] = "ranker", ["engine"] = "python",
            ["preprocess_uri"] = "http://127.0.0.1:1/files/serving/preprocess.py", ["requirements"] = "numpy\n",
        });
        var model = (await _admin.CallAsync("models.create", new JsonObject { ["name"] = "ranker", ["uri"] = "http://127.0.0.1:1/files/ranker.pkl" }))["id"]!.GetValue<string>();
        var version = (await _admin.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["versions"]!.AsArray().Single()!;
        Assert.Equal(model, version["model"]!.GetValue<string>());
        Assert.Equal("python", version["engine"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:1/files/serving/preprocess.py", version["preprocess_uri"]!.GetValue<string>());
        Assert.Equal("numpy\n", version["requirements"]!.GetValue<string>());
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _testServer.DisposeAsync();
    }
}
