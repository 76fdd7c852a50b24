using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>
/// `slipway serving endpoint|version|canary|shadow|auto-update|request-log|key|metrics|control-planes ...`: inference endpoints kept on the server (served by `slipway serve`).
/// Endpoints are named by name; versions by number.
/// </summary>
public static class ServingCommands
{
    public static Command Create(CliConsole console) => new("serving", "Manage inference endpoints: versions bound to models, canary weights, keys")
    {
        new Command("endpoint", "Create, change, list, show and delete endpoints") { CreateEndpoint(console), UpdateEndpoint(console), List(console), Show(console), Delete(console) },
        new Command("version", "Add a model as a new version of an endpoint, or remove one") { AddVersion(console), RemoveVersion(console) },
        Canary(console),
        Shadow(console),
        AutoUpdate(console),
        RequestLog(console),
        new Command("key", "Issue, list and revoke an endpoint's keys") { CreateKey(console), ListKeys(console), RevokeKey(console) },
        ServingMetricsCommands.Metrics(console),
        ServingMetricsCommands.ControlPlanes(console),
    };

    private static Argument<string> EndpointArgument() => new("endpoint") { Description = "The endpoint's name" };

    private static async Task<JsonObject> RequireEndpointAsync(ClientInvocation run, string name)
    {
        var found = await run.Client.CallAsync("serving.get_endpoints", new JsonObject { ["name"] = name }, run.CancellationToken);
        return (found["endpoints"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault() ?? throw CliException.NotFound($"no endpoint named '{name}'");
    }

    private static string Id(JsonObject endpoint) => Output.Text(endpoint["id"]) ?? "";

    private static string? Number(JsonNode? node) => node is JsonValue value ? value.ToJsonString() : null;

    private static ClientCommand CreateEndpoint(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The new endpoint's name (letters, digits, '_', '.', '-'); clients call /serve/NAME or /v2/models/NAME" };
        var isPublic = new Option<bool>("--public") { Description = "Answer requests without a key (default: every request needs one of the endpoint's keys)" };
        var maxBytes = new Option<long?>("--max-request-bytes") { Description = "Refuse request bodies larger than this (default: the host's limit)", HelpName = "bytes" };
        var maxBatch = new Option<int?>("--max-batch-size") { Description = "Batch concurrent requests into one model run of up to this many rows (ONNX)", HelpName = "rows" };
        var maxDelay = new Option<int?>("--max-queue-delay-ms") { Description = "How long the first request of a batch waits for others (default 2)", HelpName = "ms" };
        var sticky = new Option<string?>("--sticky-header")
        {
            Description = "Keep each caller on one version of a canary by the value of this request header (e.g. X-User)", HelpName = "header",
        };
        var command = new ClientCommand("create", "Create an endpoint and print its id", console) { name, isPublic, maxBytes, maxBatch, maxDelay, sticky };
        command.SetClientAction(async run =>
        {
            var body = new JsonObject { ["name"] = run.Get(name), ["public"] = run.Get(isPublic) };
            if (run.Get(maxBytes) is { } bytes)
                body["max_request_bytes"] = bytes;
            if (run.Get(maxBatch) is { } rows)
                body["max_batch_size"] = rows;
            if (run.Get(maxDelay) is { } ms)
                body["max_queue_delay_ms"] = ms;
            if (run.Get(sticky) is { } header)
                body["sticky_header"] = header;
            var id = Output.Text((await run.Client.CallAsync("serving.create_endpoint", body, run.CancellationToken))["id"]);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = id, ["name"] = run.Get(name) });
            else
                run.Out.WriteLine(id);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// Changes an endpoint's settings, including one imported from clearml-serving (whose clients send no key: --public true
    /// lets them call it as they did).
    /// </summary>
    private static ClientCommand UpdateEndpoint(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var isPublic = new Option<bool?>("--public") { Description = "true: answer requests without a key; false: every request needs one of the endpoint's keys", HelpName = "true|false" };
        var maxBytes = new Option<long?>("--max-request-bytes") { Description = "Refuse request bodies larger than this", HelpName = "bytes" };
        var maxBatch = new Option<int?>("--max-batch-size") { Description = "Batch concurrent requests into one model run of up to this many rows (ONNX)", HelpName = "rows" };
        var maxDelay = new Option<int?>("--max-queue-delay-ms") { Description = "How long the first request of a batch waits for others", HelpName = "ms" };
        var sticky = new Option<string?>("--sticky-header") { Description = "Keep each caller on one version by this request header; empty turns it off", HelpName = "header" };
        var command = new ClientCommand("update", "Change an endpoint's settings (what is not given stays)", console) { endpoint, isPublic, maxBytes, maxBatch, maxDelay, sticky };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var body = new JsonObject { ["endpoint"] = Id(found) };
            if (run.Get(isPublic) is { } open)
                body["public"] = open;
            if (run.Get(maxBytes) is { } bytes)
                body["max_request_bytes"] = bytes;
            if (run.Get(maxBatch) is { } rows)
                body["max_batch_size"] = rows;
            if (run.Get(maxDelay) is { } ms)
                body["max_queue_delay_ms"] = ms;
            if (run.Get(sticky) is { } header)
                body["sticky_header"] = header;
            if (body.Count == 1)
                throw CliException.Usage("nothing to change: give --public, --max-request-bytes, --max-batch-size, --max-queue-delay-ms or --sticky-header");
            await run.Client.CallAsync("serving.update_endpoint", body, run.CancellationToken);
            if (run.Json)
                run.WriteJson(body);
            else
                run.Note($"Updated endpoint {run.Get(endpoint)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand List(CliConsole console)
    {
        var command = new ClientCommand("list", "List endpoints: name, versions with their weights and states, keys", console);
        command.SetClientAction(async run =>
        {
            var endpoints = (await run.Client.CallAsync("serving.get_endpoints", [], run.CancellationToken))["endpoints"] as JsonArray ?? [];
            if (run.Json)
            {
                run.WriteJson(endpoints.DeepClone());
                return ExitCodes.Ok;
            }
            if (endpoints.Count == 0)
            {
                run.Note("No endpoints.");
                return ExitCodes.Ok;
            }
            var table = new Table("NAME", "ID", "VERSIONS", "PUBLIC", "KEYS").AlignRight("KEYS");
            foreach (var e in endpoints.OfType<JsonObject>())
            {
                var versions = (e["versions"] as JsonArray ?? []).OfType<JsonObject>().Select(v => $"v{Number(v["version"])}:{Weight(v)} {State(v)}");
                table.Add(Output.Text(e["name"]), Id(e), string.Join(", ", versions), e["public"]?.GetValue<bool>() == true ? "yes" : "no",
                    (e["keys"] as JsonArray)?.Count.ToString(CultureInfo.InvariantCulture) ?? "0");
            }
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The version's weight, or "shadow N%" for a shadow (which takes no live traffic).</summary>
    private static string Weight(JsonObject version) => version["shadow"]?.GetValue<double>() is > 0 and var share
        ? $"shadow {share.ToString("0.##", CultureInfo.InvariantCulture)}"
        : (version["weight"]?.GetValue<double>() ?? 0).ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>The states hosts reported for a version ("ready", "loading", "failed"), or "-" before any host has it.</summary>
    private static string State(JsonObject version)
    {
        var states = (version["instances"] as JsonArray ?? []).OfType<JsonObject>().Select(i => Output.Text(i["state"]) ?? "?").Distinct().ToList();
        return states.Count == 0 ? "-" : string.Join("/", states);
    }

    private static ClientCommand Show(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var command = new ClientCommand("show", "Show an endpoint: its versions (model, weight, state on each host, failure reasons) and keys", console) { endpoint };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            if (run.Json)
            {
                run.WriteJson(found);
                return ExitCodes.Ok;
            }
            new Fields()
                .Add("name", Output.Text(found["name"]))
                .Add("id", Id(found))
                .Add("public", found["public"]?.GetValue<bool>() == true ? "yes" : "no")
                .Add("max batch", Number(found["max_batch_size"]) ?? "-")
                .Add("sticky header", Output.Text(found["sticky_header"]))
                .Add("clearml-serving", Output.Text(found["control_plane"]))
                .Add("metric rules", found["metrics"] is JsonObject { Count: > 0 } rules ? string.Join(", ", rules.Select(r => r.Key == "*" ? "all versions" : $"version {r.Key}")) : null)
                .Write(run.Out);
            run.Out.WriteLine();
            var table = new Table("VERSION", "MODEL", "ENGINE", "WEIGHT", "HOST", "DEVICE", "STATE", "REQ/MIN", "LATENCY MS", "REASON").AlignRight("REQ/MIN", "LATENCY MS");
            foreach (var v in (found["versions"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var instances = (v["instances"] as JsonArray ?? []).OfType<JsonObject>().ToList();
                if (instances.Count == 0)
                    table.Add(Number(v["version"]), Output.Text(v["model"]), Output.Text(v["engine"]) ?? "onnx", Weight(v), "-", "-", "-", "-", "-", "");
                foreach (var i in instances)
                {
                    table.Add(Number(v["version"]), Output.Text(v["model"]), Output.Text(v["engine"]) ?? "onnx", Weight(v), Output.Text(i["container"]), (Output.Text(i["device"]) is { Length: > 0 } device ? device : "-"), Output.Text(i["state"]),
                        (i["requests_min"]?.GetValue<double>() ?? 0).ToString("0.#", CultureInfo.InvariantCulture),
                        (i["latency_ms"]?.GetValue<double>() ?? 0).ToString("0.###", CultureInfo.InvariantCulture), Output.Clip(Output.Text(i["reason"]) ?? "", 60));
                }
            }
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Delete(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var command = new ClientCommand("delete", "Delete an endpoint (hosts stop serving it at their next poll)", console) { endpoint };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            await run.Client.CallAsync("serving.delete_endpoint", new JsonObject { ["endpoint"] = Id(found) }, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = Id(found), ["deleted"] = true });
            else
                run.Note($"Deleted endpoint {run.Get(endpoint)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand AddVersion(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var model = new Argument<string>("model") { Description = "The registered model's id" };
        var weight = new Option<double?>("--weight")
        {
            Description = "This version's share of traffic; without it the new version takes all traffic once a host has it ready (the others keep serving until then)",
            HelpName = "w",
        };
        var (engine, preprocess, requirements) = EngineOptions();
        var command = new ClientCommand("add", "Add a model as the endpoint's next version and print the version number", console) { endpoint, model, weight, engine, preprocess, requirements };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var body = new JsonObject { ["endpoint"] = Id(found), ["model"] = run.Get(model) };
            if (run.Get(weight) is { } w)
                body["weight"] = w;
            await BindEngineAsync(run, body, Id(found), engine, preprocess, requirements);
            var version = (await run.Client.CallAsync("serving.add_version", body, run.CancellationToken))["version"]?.GetValue<long>() ?? 0;
            if (run.Json)
                run.WriteJson(new JsonObject { ["endpoint"] = Id(found), ["version"] = version });
            else
                run.Out.WriteLine(version);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static (Option<string> Engine, Option<FileInfo?> Preprocess, Option<FileInfo?> Requirements) EngineOptions() => (
        new Option<string>("--engine") { Description = "The engine that runs the model: onnx (in process) or python (a worker process running --preprocess)", DefaultValueFactory = _ => "onnx", HelpName = "name" },
        new Option<FileInfo?>("--preprocess")
        {
            Description = "A clearml-serving style preprocess.py (class Preprocess: load, preprocess, process, postprocess); uploaded to the file server and bound to the version",
            HelpName = "file",
        },
        new Option<FileInfo?>("--requirements")
        {
            Description = "A requirements.txt for the python engine: hosts build a virtual environment from it (default: the host's interpreter as it is)",
            HelpName = "file",
        });

    /// <summary>Sets engine, preprocess_uri (the code uploaded to the file server) and requirements on an add_version or set_auto_update body.</summary>
    private static async Task BindEngineAsync(ClientInvocation run, JsonObject body, string endpointId, Option<string> engine, Option<FileInfo?> preprocess, Option<FileInfo?> requirements)
    {
        body["engine"] = run.Get(engine);
        if (run.Get(preprocess) is { } code)
        {
            if (!code.Exists)
                throw CliException.Usage($"no file {code.FullName}");
            var uri = await run.Client.Files.UploadFileAsync(code.FullName, $"serving/{endpointId}/{Guid.NewGuid():N}/{code.Name}", null, null, run.CancellationToken);
            body["preprocess_uri"] = uri.ToString();
        }
        if (run.Get(requirements) is { } list)
        {
            if (!list.Exists)
                throw CliException.Usage($"no file {list.FullName}");
            body["requirements"] = await File.ReadAllTextAsync(list.FullName, run.CancellationToken);
        }
    }

    private static ClientCommand RemoveVersion(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var version = new Argument<long>("version") { Description = "The version number" };
        var command = new ClientCommand("remove", "Remove a version (hosts drain its requests in flight, then unload it)", console) { endpoint, version };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            await run.Client.CallAsync("serving.remove_version", new JsonObject { ["endpoint"] = Id(found), ["version"] = run.Get(version) }, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["endpoint"] = Id(found), ["version"] = run.Get(version), ["removed"] = true });
            else
                run.Note($"Removed version {run.Get(version)} of {run.Get(endpoint)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Canary(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var weights = new Argument<string[]>("weights") { Description = "VERSION=WEIGHT pairs, e.g. 1=0.9 2=0.1; versions not named keep their weight", Arity = ArgumentArity.OneOrMore };
        var command = new ClientCommand("canary", "Split an endpoint's traffic across its versions by weight", console) { endpoint, weights };
        command.SetClientAction(async run =>
        {
            var map = new JsonObject();
            foreach (var pair in run.Get(weights) ?? [])
            {
                var parts = pair.Split('=', 2);
                if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)
                    || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var w))
                    throw CliException.Usage($"'{pair}' is not VERSION=WEIGHT");
                map[parts[0]] = w;
            }
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            await run.Client.CallAsync("serving.set_canary", new JsonObject { ["endpoint"] = Id(found), ["weights"] = map }, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["endpoint"] = Id(found), ["weights"] = map.DeepClone() });
            else
                run.Note($"Weights of {run.Get(endpoint)}: {string.Join(", ", run.Get(weights) ?? [])}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Shadow(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var version = new Argument<long>("version") { Description = "The candidate version" };
        var share = new Option<double>("--share")
        {
            Description = "The part of the requests copied to it, 0 to 1 (default 1; 0 ends the shadow and gives it back its weight)", DefaultValueFactory = _ => 1, HelpName = "fraction",
        };
        var command = new ClientCommand("shadow", "Send a copy of the endpoint's requests to a candidate version: its answers are recorded, never returned", console)
        {
            endpoint, version, share,
        };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            await run.Client.CallAsync("serving.set_shadow", new JsonObject { ["endpoint"] = Id(found), ["version"] = run.Get(version), ["share"] = run.Get(share) },
                run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["endpoint"] = Id(found), ["version"] = run.Get(version), ["share"] = run.Get(share) });
            else
                run.Note(run.Get(share) > 0
                    ? $"Version {run.Get(version)} of {run.Get(endpoint)} shadows {run.Get(share):P0} of its requests."
                    : $"Version {run.Get(version)} of {run.Get(endpoint)} is no longer a shadow.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand AutoUpdate(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var modelName = new Option<string?>("--model-name") { Description = "Models with this name", HelpName = "name" };
        var project = new Option<string?>("--project") { Description = "Models in this project (id)", HelpName = "id" };
        var tags = new Option<string[]>("--tag") { Description = "Models with this tag; repeat for several (all are needed)", HelpName = "tag" };
        var published = new Option<bool>("--published") { Description = "Only once a model is published (default: as soon as it has its file)" };
        var keep = new Option<int>("--keep") { Description = "How many versions the endpoint keeps; the oldest go", DefaultValueFactory = _ => 2, HelpName = "n" };
        var weight = new Option<double?>("--weight") { Description = "The new version's share of traffic (default: all traffic once it is ready)", HelpName = "w" };
        var off = new Option<bool>("--off") { Description = "Remove the endpoint's rule" };
        var (engine, preprocess, requirements) = EngineOptions();
        var command = new ClientCommand("auto-update", "Deploy new models that match a rule as new versions of an endpoint, as the server registers or publishes them", console)
        {
            endpoint, modelName, project, tags, published, keep, weight, off, engine, preprocess, requirements,
        };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var body = new JsonObject { ["endpoint"] = Id(found), ["enabled"] = !run.Get(off) };
            if (!run.Get(off))
            {
                body["model_name"] = run.Get(modelName) ?? "";
                body["project"] = run.Get(project) ?? "";
                body["tags"] = new JsonArray((run.Get(tags) ?? []).Select(t => (JsonNode)t).ToArray());
                body["published"] = run.Get(published);
                body["keep"] = run.Get(keep);
                if (run.Get(weight) is { } w)
                    body["weight"] = w;
                await BindEngineAsync(run, body, Id(found), engine, preprocess, requirements);
            }
            await run.Client.CallAsync("serving.set_auto_update", body, run.CancellationToken);
            if (run.Json)
                run.WriteJson(body);
            else
                run.Note(run.Get(off) ? $"Auto-update of {run.Get(endpoint)} is off." : $"Auto-update of {run.Get(endpoint)} is on.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand RequestLog(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var sample = new Option<double?>("--sample") { Description = "The part of the requests logged, 0 to 1 (default 1)", HelpName = "fraction" };
        var maxRecords = new Option<long?>("--max-records") { Description = "Records per dataset version (default 1000)", HelpName = "n" };
        var maxSeconds = new Option<double?>("--max-seconds") { Description = "Seconds before a partial batch becomes a version (default 60)", HelpName = "seconds" };
        var project = new Option<string?>("--project") { Description = "The dataset's project (default serving)", HelpName = "name" };
        var dataset = new Option<string?>("--dataset") { Description = "The dataset's name (default ENDPOINT-requests)", HelpName = "name" };
        var off = new Option<bool>("--off") { Description = "Stop logging the endpoint's requests" };
        var command = new ClientCommand("request-log",
            "Show or set an endpoint's request log: a sample of its requests written as dataset versions for the next training run (what is not given stays)", console)
        {
            endpoint, sample, maxRecords, maxSeconds, project, dataset, off,
        };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var log = found["request_log"]?.DeepClone() as JsonObject;
            var given = new (string Field, JsonNode? Value)[]
            {
                ("sample", run.Get(sample)), ("max_records", run.Get(maxRecords)), ("max_seconds", run.Get(maxSeconds)),
                ("project", run.Get(project)), ("dataset", run.Get(dataset)),
            }.Where(g => g.Value is not null).ToList();
            if (run.Get(off) && given.Count > 0)
                throw CliException.Usage("--off takes no other setting");
            if (run.Get(off) || given.Count > 0)
            {
                log = run.Get(off) ? null : log ?? [];
                foreach (var (field, value) in run.Get(off) ? [] : given)
                    log![field] = value;
                await run.Client.CallAsync("serving.update_endpoint", new JsonObject { ["endpoint"] = Id(found), ["request_log"] = log?.DeepClone() ?? (JsonNode)false },
                    run.CancellationToken);
            }
            if (run.Json)
                run.WriteJson(new JsonObject { ["endpoint"] = Id(found), ["request_log"] = log });
            else if (log is null)
                run.Out.WriteLine($"The request log of {run.Get(endpoint)} is off.");
            else
                new Fields()
                    .Add("sample", Number(log["sample"]) ?? "1 (default)")
                    .Add("records per version", Number(log["max_records"]) ?? "1000 (default)")
                    .Add("seconds per version", Number(log["max_seconds"]) ?? "60 (default)")
                    .Add("project", Output.Text(log["project"]) ?? "serving (default)")
                    .Add("dataset", Output.Text(log["dataset"]) ?? $"{run.Get(endpoint)}-requests (default)")
                    .Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand CreateKey(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var name = new Option<string?>("--name") { Description = "A label for the key (who uses it)", HelpName = "text" };
        var command = new ClientCommand("create", "Issue a key for an endpoint and print it (it is shown only this once)", console) { endpoint, name };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var created = await run.Client.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = Id(found), ["name"] = run.Get(name) ?? "" }, run.CancellationToken);
            if (run.Json)
            {
                run.WriteJson(new JsonObject { ["id"] = Output.Text(created["id"]), ["key"] = Output.Text(created["key"]) });
            }
            else
            {
                run.Out.WriteLine(Output.Text(created["key"]));
                run.Note($"Key id {Output.Text(created["id"])}; send the key as 'Authorization: Bearer KEY'. It is not shown again.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand ListKeys(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var command = new ClientCommand("list", "List an endpoint's keys (ids and labels; the keys themselves are not kept)", console) { endpoint };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var keys = (await run.Client.CallAsync("serving.get_keys", new JsonObject { ["endpoint"] = Id(found) }, run.CancellationToken))["keys"] as JsonArray ?? [];
            if (run.Json)
            {
                run.WriteJson(keys.DeepClone());
                return ExitCodes.Ok;
            }
            if (keys.Count == 0)
            {
                run.Note("No keys.");
                return ExitCodes.Ok;
            }
            var table = new Table("ID", "NAME", "CREATED");
            foreach (var k in keys.OfType<JsonObject>())
                table.Add(Output.Text(k["id"]), Output.Text(k["name"]), Output.Text(k["created"]));
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand RevokeKey(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var keyId = new Argument<string>("key-id") { Description = "The key's id (from 'slipway serving key list')" };
        var command = new ClientCommand("revoke", "Revoke a key: hosts refuse it from their next poll on", console) { endpoint, keyId };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            await run.Client.CallAsync("serving.revoke_key", new JsonObject { ["endpoint"] = Id(found), ["key_id"] = run.Get(keyId) }, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = run.Get(keyId), ["revoked"] = true });
            else
                run.Note($"Revoked key {run.Get(keyId)}.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
