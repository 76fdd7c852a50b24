using System.Text.Json.Nodes;
using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

public sealed class ServingCommandTests(CliServer server) : IClassFixture<CliServer>
{
    private async Task<string> ModelAsync() =>
        (await server.Client.CallAsync("models.create", new JsonObject { ["name"] = "m", ["uri"] = "http://127.0.0.1:1/files/m.onnx" }))["id"]!.GetValue<string>();

    [Fact]
    public async Task An_endpoint_is_created_given_versions_weights_and_keys_and_deleted_from_the_command_line()
    {
        var name = CliServer.Unique("ep");
        var id = (await server.RunAsync("serving", "endpoint", "create", name, "--max-batch-size", "8", "--sticky-header", "X-User")).Ok().Out.Trim();
        var first = await ModelAsync();
        var second = await ModelAsync();
        Assert.Equal("1", (await server.RunAsync("serving", "version", "add", name, first)).Ok().Out.Trim());
        Assert.Equal("2", (await server.RunAsync("serving", "version", "add", name, second, "--weight", "0")).Ok().Out.Trim());
        (await server.RunAsync("serving", "canary", name, "1=0.9", "2=0.1")).Ok();

        var row = Assert.Single((await server.RunAsync("serving", "endpoint", "list")).Ok().Out.Split('\n'), l => l.StartsWith(name + " ", StringComparison.Ordinal));
        Assert.Contains(id, row, StringComparison.Ordinal);
        Assert.True(row.Contains("v1:0.9 -, v2:0.1 -", StringComparison.Ordinal), row);
        var listed = (await server.RunAsync("serving", "endpoint", "list", "--json")).Json().AsArray().Single(e => e!["name"]!.GetValue<string>() == name)!;
        Assert.Equal([0.9, 0.1], listed["versions"]!.AsArray().Select(v => v!["weight"]!.GetValue<double>()));

        var key = (await server.RunAsync("serving", "key", "create", name, "--name", "frontend", "--json")).Json();
        Assert.StartsWith("slw_", key["key"]!.GetValue<string>(), StringComparison.Ordinal);
        var keyId = key["id"]!.GetValue<string>();
        var keys = (await server.RunAsync("serving", "key", "list", name)).Ok().Out;
        Assert.Contains(keyId, keys, StringComparison.Ordinal);
        Assert.Contains("frontend", keys, StringComparison.Ordinal);
        Assert.DoesNotContain(key["key"]!.GetValue<string>(), keys, StringComparison.Ordinal);
        (await server.RunAsync("serving", "key", "revoke", name, keyId)).Ok();
        Assert.Empty((await server.RunAsync("serving", "key", "list", name, "--json")).Json().AsArray());

        (await server.RunAsync("serving", "shadow", name, "2", "--share", "0.5")).Ok();
        var shadowed = (await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json();
        Assert.Equal("X-User", shadowed["sticky_header"]!.GetValue<string>());
        Assert.Equal(0.5, shadowed["versions"]![1]!["shadow"]!.GetValue<double>());
        Assert.Contains("shadow 0.5", (await server.RunAsync("serving", "endpoint", "show", name)).Ok().Out, StringComparison.Ordinal);
        (await server.RunAsync("serving", "shadow", name, "2", "--share", "0")).Ok();
        Assert.Null((await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json()["versions"]![1]!["shadow"]);

        (await server.RunAsync("serving", "auto-update", name, "--model-name", "scorer", "--published", "--keep", "3")).Ok();
        var rule = (await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json()["auto_update"]!;
        Assert.Equal("scorer", rule["model_name"]!.GetValue<string>());
        Assert.Equal(3, rule["keep"]!.GetValue<long>());
        Assert.True(rule["published"]!.GetValue<bool>());
        (await server.RunAsync("serving", "auto-update", name, "--off")).Ok();
        Assert.Null((await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json()["auto_update"]);

        (await server.RunAsync("serving", "endpoint", "update", name, "--public", "true", "--max-request-bytes", "1024")).Ok();
        var updated = (await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json();
        Assert.True(updated["public"]!.GetValue<bool>());
        Assert.Equal(1024, updated["max_request_bytes"]!.GetValue<long>());
        Assert.Equal(8, updated["max_batch_size"]!.GetValue<long>());
        Assert.Equal(ExitCodes.Usage, (await server.RunAsync("serving", "endpoint", "update", name)).Exit);

        (await server.RunAsync("serving", "version", "remove", name, "1")).Ok();
        var shown = (await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json();
        Assert.Equal([2L], shown["versions"]!.AsArray().Select(v => v!["version"]!.GetValue<long>()));
        (await server.RunAsync("serving", "endpoint", "delete", name)).Ok();
        Assert.Equal(ExitCodes.Failed, (await server.RunAsync("serving", "endpoint", "show", name)).Exit);
    }

    [Fact]
    public async Task The_request_log_is_shown_set_changed_in_part_and_turned_off_from_the_command_line()
    {
        var name = CliServer.Unique("logged");
        (await server.RunAsync("serving", "endpoint", "create", name)).Ok();
        Assert.Contains("is off", (await server.RunAsync("serving", "request-log", name)).Ok().Out, StringComparison.Ordinal);

        (await server.RunAsync("serving", "request-log", name, "--sample", "0.2", "--dataset", "seen")).Ok();
        // What is not given stays: a second call changes one setting.
        (await server.RunAsync("serving", "request-log", name, "--max-records", "50")).Ok();
        var stored = (await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json()["request_log"]!;
        Assert.Equal((0.2, 50L, "seen"), (stored["sample"]!.GetValue<double>(), stored["max_records"]!.GetValue<long>(), stored["dataset"]!.GetValue<string>()));
        var shown = (await server.RunAsync("serving", "request-log", name)).Ok().Out;
        Assert.Contains("0.2", shown, StringComparison.Ordinal);
        Assert.Contains("serving (default)", shown, StringComparison.Ordinal);
        Assert.Equal("seen", (await server.RunAsync("serving", "request-log", name, "--json")).Json()["request_log"]!["dataset"]!.GetValue<string>());

        // The server's own checks answer bad values; --off with a setting is a usage error.
        Assert.Equal(ExitCodes.Failed, (await server.RunAsync("serving", "request-log", name, "--sample", "2")).Exit);
        Assert.Equal(ExitCodes.Usage, (await server.RunAsync("serving", "request-log", name, "--off", "--sample", "0.5")).Exit);

        (await server.RunAsync("serving", "request-log", name, "--off")).Ok();
        Assert.Null((await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json()["request_log"]);
        (await server.RunAsync("serving", "endpoint", "delete", name)).Ok();
    }

    [Fact]
    public async Task Metric_rules_are_added_listed_and_removed_from_the_command_line()
    {
        var name = CliServer.Unique("ep");
        (await server.RunAsync("serving", "endpoint", "create", name)).Ok();
        (await server.RunAsync("serving", "version", "add", name, await ModelAsync())).Ok();
        (await server.RunAsync("serving", "metrics", "add", name, "--log-freq", "0.5", "--variable-scalar", "x=1,0,0.5", "--variable-enum", "animal=cat,dog")).Ok();
        (await server.RunAsync("serving", "metrics", "add", name, "--version", "1", "--variable-value", "score", "--variable-counter", "items")).Ok();

        var rules = (await server.RunAsync("serving", "metrics", "list", name, "--json")).Json();
        Assert.Equal(0.5, rules["*"]!["log_frequency"]!.GetValue<double>());
        Assert.Equal([0.0, 0.5, 1.0], rules["*"]!["variables"]!["x"]!["buckets"]!.AsArray().Select(b => b!.GetValue<double>()));
        Assert.Equal(["score", "items"], rules["1"]!["variables"]!.AsObject().Select(p => p.Key));
        var table = (await server.RunAsync("serving", "metrics", "list", name)).Ok().Out;
        Assert.Contains("animal", table, StringComparison.Ordinal);
        Assert.Contains("cat,dog", table, StringComparison.Ordinal);
        Assert.Contains("metric rules", (await server.RunAsync("serving", "endpoint", "show", name)).Ok().Out, StringComparison.Ordinal);

        var bad = await server.RunAsync("serving", "metrics", "add", name, "--variable-scalar", "x=low,high");
        Assert.Equal(ExitCodes.Usage, bad.Exit);
        Assert.Contains("'low' is not a number", bad.Error, StringComparison.Ordinal);
        var refused = await server.RunAsync("serving", "metrics", "add", name, "--version", "7", "--variable-value", "y");
        Assert.Equal(ExitCodes.Failed, refused.Exit);
        Assert.Contains("has no version 7", refused.Error, StringComparison.Ordinal);

        (await server.RunAsync("serving", "metrics", "remove", name, "--variable", "animal")).Ok();
        (await server.RunAsync("serving", "metrics", "remove", name, "--version", "1")).Ok();
        rules = (await server.RunAsync("serving", "metrics", "list", name, "--json")).Json();
        Assert.Equal(["*"], rules.AsObject().Select(p => p.Key));
        Assert.Equal(["x"], rules["*"]!["variables"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task Control_planes_lists_the_clearml_serving_services_and_what_they_could_not_import()
    {
        var model = await ModelAsync();
        var name = CliServer.Unique("cs");
        var task = (await server.Client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = name, ["type"] = "service", ["system_tags"] = new JsonArray("serving-control-plane"),
        }))["id"]!.GetValue<string>();
        try
        {
            await server.Client.CallAsync("tasks.edit_configuration", new JsonObject
            {
                ["task"] = task,
                ["configuration"] = new JsonArray(new JsonObject
                {
                    ["name"] = "endpoints", ["type"] = "dictionary",
                    ["value"] = $"{name}/1 {{ engine_type = \"triton\", serving_url = \"{name}\", model_id = \"{model}\", version = \"1\" }}\n"
                                + $"{name}/2 {{ engine_type = \"vllm\", serving_url = \"{name}\", model_id = \"{model}\", version = \"2\" }}",
                }),
            });
            var plane = (await server.RunAsync("serving", "control-planes", "--json")).Json().AsArray().Single(p => p!["task"]!.GetValue<string>() == task)!;
            Assert.Equal([name], plane["endpoints"]!.AsArray().Select(e => e!.GetValue<string>()));
            Assert.Equal($"{name}/2", plane["rejected"]![0]!["name"]!.GetValue<string>());
            var text = (await server.RunAsync("serving", "control-planes")).Ok().Out;
            Assert.Contains(task, text, StringComparison.Ordinal);
            Assert.Contains("engine 'vllm' is not served", text, StringComparison.Ordinal);
        }
        finally
        {
            await server.Client.CallAsync("tasks.delete", new JsonObject { ["task"] = task, ["force"] = true });
        }
    }

    [Fact]
    public async Task Bad_weights_and_unknown_endpoints_are_refused_with_the_reason()
    {
        var bad = await server.RunAsync("serving", "canary", "whatever", "one=half");
        Assert.Equal(ExitCodes.Usage, bad.Exit);
        Assert.Contains("VERSION=WEIGHT", bad.Error, StringComparison.Ordinal);
        var unknown = await server.RunAsync("serving", "version", "add", "no-such-endpoint", await ModelAsync());
        Assert.Equal(ExitCodes.Failed, unknown.Exit);
        Assert.Contains("no endpoint named 'no-such-endpoint'", unknown.Error, StringComparison.Ordinal);
        var name = CliServer.Unique("ep");
        (await server.RunAsync("serving", "endpoint", "create", name)).Ok();
        var refused = await server.RunAsync("serving", "version", "add", name, "no-such-model");
        Assert.Equal(ExitCodes.Failed, refused.Exit);
        Assert.Contains("Invalid model id", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_python_engine_version_gets_its_preprocess_code_uploaded_and_its_requirements_bound()
    {
        var folder = Directory.CreateTempSubdirectory("slipway-serving-cli-").FullName;
        try
        {
            var code = Path.Combine(folder, "preprocess.py");
            await File.WriteAllTextAsync(code, "class Preprocess:\n    pass\n");
            var requirements = Path.Combine(folder, "requirements.txt");
            await File.WriteAllTextAsync(requirements, "scikit-learn==1.5.2\n");
            var name = CliServer.Unique("ep");
            (await server.RunAsync("serving", "endpoint", "create", name)).Ok();
            var model = await ModelAsync();

            var missing = await server.RunAsync("serving", "version", "add", name, model, "--engine", "python");
            Assert.Equal(ExitCodes.Failed, missing.Exit);
            Assert.Contains("preprocess_uri", missing.Error, StringComparison.Ordinal);

            Assert.Equal("1", (await server.RunAsync("serving", "version", "add", name, model, "--engine", "python", "--preprocess", code, "--requirements", requirements)).Ok().Out.Trim());
            var version = (await server.RunAsync("serving", "endpoint", "show", name, "--json")).Json()["versions"]![0]!;
            Assert.Equal("python", version["engine"]!.GetValue<string>());
            Assert.Equal("scikit-learn==1.5.2\n", version["requirements"]!.GetValue<string>());
            var uri = new Uri(version["preprocess_uri"]!.GetValue<string>());
            Assert.EndsWith("/preprocess.py", uri.AbsolutePath, StringComparison.Ordinal);
            await using var stored = await server.Client.Files.OpenReadAsync(uri);
            using var reader = new StreamReader(stored);
            Assert.Equal("class Preprocess:\n    pass\n", await reader.ReadToEndAsync());
            Assert.Contains("python", (await server.RunAsync("serving", "endpoint", "show", name)).Ok().Out, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
