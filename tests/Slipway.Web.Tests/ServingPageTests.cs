using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

[Collection("web")]
public sealed class ServingPageTests(WebFixture web)
{
    [Fact]
    public async Task An_endpoint_shows_its_versions_with_host_states_and_its_canary_weights_are_edited_there()
    {
        await using var scratch = new RegistryScratch(web);
        var model = await scratch.ModelAsync(new JsonObject { ["name"] = $"scorer-{scratch.Unique}", ["uri"] = "http://127.0.0.1:1/files/m.onnx", ["framework"] = "ONNX" });
        var name = $"scorer-{scratch.Unique}";
        var endpoint = RegistryScratch.Id(await web.ApiAsync("serving.create_endpoint", new JsonObject { ["name"] = name }));
        try
        {
            await web.ApiAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model });
            await web.ApiAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["weight"] = 0 });
            await web.ApiAsync("serving.create_key", new JsonObject { ["endpoint"] = endpoint });
            // What a host reports: version 1 ready, version 2 failed with its reason.
            await web.ApiAsync("serving.container_status_report", new JsonObject
            {
                ["container_id"] = $"host-{scratch.Unique}", ["endpoint_url"] = "http://127.0.0.1:8090",
                ["versions"] = new JsonArray(
                    new JsonObject { ["endpoint"] = endpoint, ["version"] = 1, ["state"] = "ready", ["requests_min"] = 120, ["latency_ms"] = 0.5 },
                    new JsonObject { ["endpoint"] = endpoint, ["version"] = 2, ["state"] = "failed", ["reason"] = "not an ONNX model" }),
            });

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("serving");
            var section = tab.Page.Locator($"section[data-endpoint='{name}']");
            await Assertions.Expect(section).ToContainTextAsync("1 keys");
            await Assertions.Expect(section.Locator("tr[data-version='1'] td.state")).ToHaveTextAsync("ready");
            await Assertions.Expect(section.Locator("tr[data-version='2'] td.state")).ToHaveTextAsync("failed");
            await Assertions.Expect(section.Locator("tr[data-version='2'] td.state")).ToHaveAttributeAsync("title", "not an ONNX model");
            await Assertions.Expect(section.Locator("tr[data-version='1'] td.name a")).ToHaveAttributeAsync("href", $"models/{model}");
            await tab.ScreenshotAsync("serving");

            await section.GetByLabel("Weight of version 1").FillAsync("0.75");
            await section.GetByLabel("Weight of version 2").FillAsync("0.25");
            await section.GetByRole(AriaRole.Button, new() { Name = "Save weights" }).ClickAsync();
            // The click's call reaches the server when the circuit handles it: poll the stored weights with a deadline.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            List<double> stored;
            while (true)
            {
                var versions = (await web.ApiAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["versions"]!.AsArray();
                stored = versions.Select(v => v!["weight"]!.GetValue<double>()).ToList();
                if (stored.SequenceEqual([0.75, 0.25]) || DateTime.UtcNow > deadline)
                    break;
                await Task.Delay(50);
            }
            Assert.Equal([0.75, 0.25], stored);
        }
        finally
        {
            await web.ApiAsync("serving.delete_endpoint", new JsonObject { ["endpoint"] = endpoint });
        }
    }

    [Fact]
    public async Task Keys_are_issued_shown_once_and_revoked_and_the_request_log_is_turned_on_with_its_dataset_versions_listed()
    {
        var unique = Guid.NewGuid().ToString("N")[..8];
        var name = $"keyed-{unique}";
        var endpoint = RegistryScratch.Id(await web.ApiAsync("serving.create_endpoint", new JsonObject { ["name"] = name }));
        var folder = Directory.CreateTempSubdirectory("slipway-web-request-log-");
        try
        {
            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("serving");
            var section = tab.Page.Locator($"section[data-endpoint='{name}']");
            var keys = section.Locator("details.keys");
            await keys.Locator("summary").ClickAsync();
            await keys.GetByLabel($"New key name for {name}").FillAsync("partner");
            await keys.GetByRole(AriaRole.Button, new() { Name = "New key" }).ClickAsync();
            // The key is shown once, and it is one the endpoint takes: its hash is stored, the page has the key itself.
            var shown = await section.Locator(".created-key code").TextContentAsync();
            Assert.StartsWith("slw_", shown ?? "", StringComparison.Ordinal);
            var stored = (await web.ApiAsync("serving.get_keys", new JsonObject { ["endpoint"] = endpoint }))["keys"]!.AsArray();
            var partner = Assert.Single(stored)!;
            Assert.Equal("partner", partner["name"]!.GetValue<string>());
            Assert.Null(partner["hash"]);
            await Assertions.Expect(section).ToContainTextAsync("1 keys");
            await Assertions.Expect(keys.Locator($"tr[data-key='{partner["id"]!.GetValue<string>()}']")).ToContainTextAsync("partner");
            await section.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
            await Assertions.Expect(section.Locator(".created-key")).ToHaveCountAsync(0);

            await keys.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
            await section.GetByRole(AriaRole.Button, new() { Name = "Yes, revoke" }).ClickAsync();
            await Assertions.Expect(section).ToContainTextAsync("0 keys");
            Assert.Empty((await web.ApiAsync("serving.get_keys", new JsonObject { ["endpoint"] = endpoint }))["keys"]!.AsArray());

            // The request log: off, then turned on with a sample and a dataset of its own.
            var log = section.Locator("details.request-log");
            await Assertions.Expect(log.Locator("summary")).ToHaveTextAsync("Request log: off");
            await log.Locator("summary").ClickAsync();
            await log.GetByLabel($"Request log sample of {name}").FillAsync("0.25");
            await log.GetByLabel($"Request log dataset of {name}").FillAsync($"seen-{unique}");
            await log.GetByRole(AriaRole.Button, new() { Name = "Turn on" }).ClickAsync();
            await Assertions.Expect(log.Locator("summary")).ToContainTextAsync($"25% of requests → dataset serving / seen-{unique}");
            var setting = (await web.ApiAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["request_log"]!;
            Assert.Equal((0.25, $"seen-{unique}"), (setting["sample"]!.GetValue<double>(), setting["dataset"]!.GetValue<string>()));
            await Assertions.Expect(log).ToContainTextAsync("No version written yet");

            // A version of that dataset, as a host writes one, is listed with a link to its page.
            var file = Path.Combine(folder.FullName, "requests-0001.jsonl");
            await File.WriteAllTextAsync(file, "{\"input\":[1],\"output\":[2],\"version\":1}\n");
            var version = await web.Client.Datasets.CreateAsync("serving", $"seen-{unique}");
            await version.AddFilesAsync(folder.FullName);
            await version.UploadAsync();
            await version.FinalizeAsync();
            await tab.Page.ReloadAsync();
            await log.Locator("summary").ClickAsync();
            await Assertions.Expect(log.GetByRole(AriaRole.Link, new() { Name = $"seen-{unique} {version.Version}" })).ToHaveAttributeAsync("href", $"datasets/{version.Id}");
            await Assertions.Expect(log.Locator("summary")).ToContainTextAsync("1 versions");
            await tab.ScreenshotAsync("serving-keys-request-log");

            await log.GetByRole(AriaRole.Button, new() { Name = "Turn off" }).ClickAsync();
            await Assertions.Expect(log.Locator("summary")).ToHaveTextAsync("Request log: off");
            Assert.Null((await web.ApiAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))["endpoint"]!["request_log"]);
        }
        finally
        {
            await web.ApiAsync("serving.delete_endpoint", new JsonObject { ["endpoint"] = endpoint });
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Deploy_on_a_model_page_creates_an_endpoint_and_then_a_canary_version()
    {
        await using var scratch = new RegistryScratch(web);
        var model = await scratch.ModelAsync(new JsonObject { ["name"] = $"Ranker V2 {scratch.Unique}", ["uri"] = "http://127.0.0.1:1/files/r.onnx", ["framework"] = "ONNX" });
        var name = $"ranker-v2-{scratch.Unique}".ToLowerInvariant();
        await using var tab = await web.SignedInPageAsync();
        var page = tab.Page;
        await tab.GotoAsync($"models/{model}");
        await page.ClickAsync("details.deploy summary");
        await Assertions.Expect(page.GetByLabel("Endpoint name")).ToHaveValueAsync(name); // from the model's name
        await page.Locator("details.deploy").GetByRole(AriaRole.Button, new() { Name = "Deploy" }).ClickAsync();
        await Assertions.Expect(page.Locator(".notice")).ToContainTextAsync($"Deployed as endpoint {name} (version 1)");
        var endpoint = await EndpointAsync(name);
        try
        {
            var first = Assert.Single(endpoint["versions"]!.AsArray())!;
            Assert.Equal((model, 1.0), (first["model"]!.GetValue<string>(), first["weight"]!.GetValue<double>()));
            await tab.ScreenshotAsync("model-deploy");

            // Deployed again to the same endpoint with a 20 % share: a canary beside version 1 (weight 1 → 0.25).
            await tab.GotoAsync($"models/{model}");
            await page.ClickAsync("details.deploy summary");
            await page.GetByLabel("Share of traffic").FillAsync("0.2");
            await page.Locator("details.deploy").GetByRole(AriaRole.Button, new() { Name = "Deploy" }).ClickAsync();
            await Assertions.Expect(page.Locator(".notice")).ToContainTextAsync($"version 2 of endpoint {name}, with 20");
            var weights = (await EndpointAsync(name))["versions"]!.AsArray().Select(v => v!["weight"]!.GetValue<double>()).ToList();
            Assert.Equal([1.0, 0.25], weights);
        }
        finally
        {
            await web.ApiAsync("serving.delete_endpoint", new JsonObject { ["endpoint"] = endpoint["id"]!.GetValue<string>() });
        }
    }

    [Fact]
    public async Task An_endpoint_charts_each_versions_requests_and_each_hosts_CPU_and_GPU_live()
    {
        await using var scratch = new RegistryScratch(web);
        var model = await scratch.ModelAsync(new JsonObject { ["name"] = $"charted-{scratch.Unique}", ["uri"] = "http://127.0.0.1:1/files/m.onnx", ["framework"] = "ONNX" });
        var name = $"charted-{scratch.Unique}";
        var endpoint = RegistryScratch.Id(await web.ApiAsync("serving.create_endpoint", new JsonObject { ["name"] = name }));
        try
        {
            await web.ApiAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model });
            await web.ApiAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["weight"] = 0.1 });
            foreach (var (host, machine) in new[] { ("gpu", new JsonObject { ["cpu_usage"] = 30.0, ["gpu_usage"] = 70.0, ["gpu_count"] = 1 }), ("cpu", new JsonObject { ["cpu_usage"] = 10.0 }) })
            {
                await web.ApiAsync("serving.container_status_report", new JsonObject
                {
                    ["container_id"] = $"{host}-{scratch.Unique}", ["endpoint_url"] = "http://127.0.0.1:8090", ["machine_stats"] = machine,
                    ["versions"] = new JsonArray(
                        new JsonObject { ["endpoint"] = endpoint, ["version"] = 1, ["state"] = "ready", ["requests"] = 90 },
                        new JsonObject { ["endpoint"] = endpoint, ["version"] = 2, ["state"] = "ready", ["requests"] = 10 }),
                });
            }

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("serving");
            var section = tab.Page.Locator($"section[data-endpoint='{name}']");
            foreach (var chart in new[] { "Requests/min by version", "CPU % by host", "GPU % by host" })
                await Assertions.Expect(section.Locator($".chart[data-chart='{chart}'] canvas")).ToHaveCountAsync(1);
            // The two arms side by side, and one series per host (only the host with a GPU on the GPU chart).
            await Assertions.Expect(section.Locator(".chart[data-chart='Requests/min by version']")).ToContainTextAsync("v2");
            await Assertions.Expect(section.Locator(".chart[data-chart='CPU % by host']")).ToContainTextAsync($"cpu-{scratch.Unique}");
            await Assertions.Expect(section.Locator(".chart[data-chart='GPU % by host']")).Not.ToContainTextAsync($"cpu-{scratch.Unique}");
            await tab.ScreenshotAsync("serving-charts");
        }
        finally
        {
            await web.ApiAsync("serving.delete_endpoint", new JsonObject { ["endpoint"] = endpoint });
        }
    }

    [Fact]
    public async Task A_clearml_serving_service_shows_what_it_could_not_import_and_its_endpoints_are_marked()
    {
        await using var scratch = new RegistryScratch(web);
        var model = await scratch.ModelAsync(new JsonObject { ["name"] = $"cs-{scratch.Unique}", ["uri"] = "http://127.0.0.1:1/files/m.onnx", ["framework"] = "ONNX" });
        var name = $"imported-{scratch.Unique}";
        var task = RegistryScratch.Id(await web.ApiAsync("tasks.create", new JsonObject
        {
            ["name"] = $"serving {scratch.Unique}", ["type"] = "service", ["system_tags"] = new JsonArray("serving-control-plane"),
        }));
        try
        {
            var endpoints = $$"""
                {{name}}/1 { engine_type = "triton", serving_url = "{{name}}", model_id = "{{model}}", version = "1" }
                "team/{{name}}/1" { engine_type = "triton", serving_url = "team/{{name}}", model_id = "{{model}}", version = "1" }
                """;
            await web.ApiAsync("tasks.edit_configuration", new JsonObject
            {
                ["task"] = task, ["configuration"] = new JsonArray(new JsonObject { ["name"] = "endpoints", ["value"] = endpoints, ["type"] = "dictionary" }),
            });

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("serving");
            var plane = tab.Page.Locator($"section.control-plane[data-task='{task}']");
            await Assertions.Expect(plane).ToContainTextAsync($"team/{name}/1");
            await Assertions.Expect(plane).ToContainTextAsync("no '/'");
            var section = tab.Page.Locator($"section[data-endpoint='{name}']");
            await Assertions.Expect(section).ToContainTextAsync("from clearml-serving");
            await Assertions.Expect(section.GetByRole(AriaRole.Button, new() { Name = "Save weights" })).ToBeDisabledAsync();
        }
        finally
        {
            // The service's endpoints go with it.
            await web.ApiAsync("tasks.delete", new JsonObject { ["task"] = task, ["force"] = true });
            await web.ApiAsync("serving.get_endpoints", new JsonObject());
        }
    }

    private async Task<JsonObject> EndpointAsync(string name) =>
        (JsonObject)(await web.ApiAsync("serving.get_endpoints", new JsonObject()))["endpoints"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == name)!;
}
