using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>
/// `slipway serving metrics add|remove|list` (user-defined metric rules, as clearml-serving's `metrics` commands) and
/// `slipway serving control-planes` (what was imported from clearml-serving services, and what was not).
/// </summary>
public static class ServingMetricsCommands
{
    public static Command Metrics(CliConsole console) => new("metrics", "Measure request and answer fields of an endpoint: histograms, value counts, last values, sums")
    {
        Add(console), Remove(console), List(console),
    };

    private static Argument<string> EndpointArgument() => new("endpoint") { Description = "The endpoint's name" };

    private static Option<long?> VersionOption(string what) => new("--version") { Description = what, HelpName = "n" };

    private static async Task<JsonObject> RequireEndpointAsync(ClientInvocation run, string name)
    {
        var found = await run.Client.CallAsync("serving.get_endpoints", new JsonObject { ["name"] = name }, run.CancellationToken);
        return (found["endpoints"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault() ?? throw CliException.NotFound($"no endpoint named '{name}'");
    }

    private static ClientCommand Add(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var version = VersionOption("The version the rule is for (default: every version of the endpoint)");
        var frequency = new Option<double?>("--log-freq") { Description = "The share of requests measured, 0 to 1 (default 1: all)", HelpName = "f" };
        var scalar = new Option<string[]>("--variable-scalar") { Description = "A number field as a histogram: name=bound,bound,... (e.g. x=0,0.5,1); repeatable", HelpName = "name=bounds" };
        var enumeration = new Option<string[]>("--variable-enum") { Description = "A field counted per value: name=value,value,... (e.g. animal=cat,dog); repeatable", HelpName = "name=values" };
        var value = new Option<string[]>("--variable-value") { Description = "A number field whose last value is kept; repeatable", HelpName = "name" };
        var counter = new Option<string[]>("--variable-counter") { Description = "A number field summed over requests; repeatable", HelpName = "name" };
        var command = new ClientCommand("add", "Add variables to an endpoint's metric rule (hosts show them on /metrics)", console)
        {
            endpoint, version, frequency, scalar, enumeration, value, counter,
        };
        command.SetClientAction(async run =>
        {
            var variables = new JsonObject();
            foreach (var spec in run.Get(scalar) ?? [])
            {
                var (name, items) = Split(spec, "--variable-scalar");
                variables[name] = new JsonObject
                {
                    ["type"] = "scalar",
                    ["buckets"] = new JsonArray(items.Select(b => double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                        ? (JsonNode)d
                        : throw CliException.Usage($"--variable-scalar {spec}: '{b}' is not a number")).ToArray()),
                };
            }
            foreach (var spec in run.Get(enumeration) ?? [])
            {
                var (name, items) = Split(spec, "--variable-enum");
                variables[name] = new JsonObject { ["type"] = "enum", ["buckets"] = new JsonArray(items.Select(v => (JsonNode)v).ToArray()) };
            }
            foreach (var name in run.Get(value) ?? [])
                variables[name] = new JsonObject { ["type"] = "value" };
            foreach (var name in run.Get(counter) ?? [])
                variables[name] = new JsonObject { ["type"] = "counter" };
            if (variables.Count == 0)
                throw CliException.Usage("name at least one variable (--variable-scalar, --variable-enum, --variable-value, --variable-counter)");
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var body = new JsonObject { ["endpoint"] = Output.Text(found["id"]), ["variables"] = variables };
            if (run.Get(version) is { } v)
                body["version"] = v;
            if (run.Get(frequency) is { } f)
                body["log_frequency"] = f;
            await run.Client.CallAsync("serving.set_metric", body, run.CancellationToken);
            if (run.Json)
                run.WriteJson(body);
            else
                run.Note($"Metric rule of {run.Get(endpoint)} ({Scope(run.Get(version))}): {string.Join(", ", variables.Select(p => p.Key))}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static (string Name, string[] Items) Split(string spec, string option)
    {
        var at = spec.IndexOf('=', StringComparison.Ordinal);
        if (at <= 0 || at == spec.Length - 1)
            throw CliException.Usage($"{option} {spec}: expected name=item,item,...");
        return (spec[..at], spec[(at + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    private static string Scope(long? version) => version is { } v ? $"version {v}" : "every version";

    private static ClientCommand Remove(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var version = VersionOption("The version whose rule changes (default: the rule for every version)");
        var variables = new Option<string[]>("--variable") { Description = "A variable to remove; repeatable (default: the whole rule)", HelpName = "name" };
        var command = new ClientCommand("remove", "Remove variables from an endpoint's metric rule, or the whole rule", console) { endpoint, version, variables };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var body = new JsonObject
            {
                ["endpoint"] = Output.Text(found["id"]),
                ["variables"] = new JsonArray((run.Get(variables) ?? []).Select(v => (JsonNode)v).ToArray()),
            };
            if (run.Get(version) is { } v)
                body["version"] = v;
            var removed = await run.Client.CallAsync("serving.remove_metric", body, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["removed"] = removed["removed"]?.DeepClone() });
            else
                run.Note($"Removed {removed["removed"]?.ToJsonString()} variable(s) from the metric rule of {run.Get(endpoint)} ({Scope(run.Get(version))}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand List(CliConsole console)
    {
        var endpoint = EndpointArgument();
        var command = new ClientCommand("list", "List an endpoint's metric rules", console) { endpoint };
        command.SetClientAction(async run =>
        {
            var found = await RequireEndpointAsync(run, run.Get(endpoint)!);
            var metrics = found["metrics"] as JsonObject ?? [];
            if (run.Json)
            {
                run.WriteJson(metrics.DeepClone());
                return ExitCodes.Ok;
            }
            if (metrics.Count == 0)
            {
                run.Note("No metric rules.");
                return ExitCodes.Ok;
            }
            var table = new Table("VERSION", "LOG FREQ", "VARIABLE", "TYPE", "BUCKETS");
            foreach (var (key, node) in metrics.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var rule = node as JsonObject ?? [];
                var frequency = (rule["log_frequency"]?.GetValue<double>() ?? 1).ToString("0.###", CultureInfo.InvariantCulture);
                foreach (var (name, variable) in rule["variables"] as JsonObject ?? [])
                {
                    var buckets = (variable?["buckets"] as JsonArray ?? []).Select(b => b is JsonValue v && v.TryGetValue(out string? s) ? s : b?.ToJsonString()).ToList();
                    table.Add(key == "*" ? "all" : key, frequency, name, Output.Text(variable?["type"]), buckets.Count == 0 ? "-" : string.Join(",", buckets));
                }
            }
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    public static ClientCommand ControlPlanes(CliConsole console)
    {
        var command = new ClientCommand("control-planes", "List the clearml-serving services whose endpoints are served, and the names they could not import", console);
        command.SetClientAction(async run =>
        {
            var found = (await run.Client.CallAsync("serving.get_control_planes", [], run.CancellationToken))["control_planes"] as JsonArray ?? [];
            if (run.Json)
            {
                run.WriteJson(found.DeepClone());
                return ExitCodes.Ok;
            }
            if (found.Count == 0)
            {
                run.Note("No clearml-serving services.");
                return ExitCodes.Ok;
            }
            var table = new Table("TASK", "NAME", "ENDPOINTS", "NOT IMPORTED");
            var rejected = new Table("TASK", "NAME", "REASON");
            foreach (var plane in found.OfType<JsonObject>())
            {
                var endpoints = (plane["endpoints"] as JsonArray ?? []).Select(Output.Text).ToList();
                var refused = (plane["rejected"] as JsonArray ?? []).OfType<JsonObject>().ToList();
                table.Add(Output.Text(plane["task"]), Output.Text(plane["name"]), endpoints.Count == 0 ? "-" : string.Join(",", endpoints),
                    refused.Count.ToString(CultureInfo.InvariantCulture));
                foreach (var r in refused)
                    rejected.Add(Output.Text(plane["task"]), Output.Text(r["name"]), Output.Text(r["reason"]));
            }
            table.Write(run.Out);
            if (found.OfType<JsonObject>().Any(p => (p["rejected"] as JsonArray)?.Count > 0))
            {
                run.Out.WriteLine();
                rejected.Write(run.Out);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
