using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Autoscaler;
using Slipway.Client;

namespace Slipway.Commands;

/// <summary>
/// `slipway autoscaler --config FILE [--dry-run]`: starts and stops compute as the queues fill and empty, until Ctrl-C;
/// `slipway autoscaler status`: what the autoscalers on the server run now and spend.
/// </summary>
public static class AutoscalerCommand
{
    public static Command Create(CliConsole console)
    {
        var config = new Option<string?>("--config") { Description = "The autoscaler's configuration file (JSON; see README)", HelpName = "file" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would be launched or stopped and why, then exit; nothing is changed" };
        var command = new ClientCommand("autoscaler", "Start and stop compute (local agents, EC2 instances) as queued work needs it, within a budget, until Ctrl-C", console)
        {
            config, dryRun, Status(console),
        };
        command.SetClientAction(async run =>
        {
            var path = run.Get(config) ?? throw CliException.Usage("--config FILE is required (or use 'slipway autoscaler status')");
            AutoscalerConfig settings;
            try
            {
                settings = AutoscalerConfig.Load(path);
            }
            catch (AutoscalerConfigException e)
            {
                throw new CliException(ExitCodes.Configuration, e.Message);
            }
            using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            }).SetMinimumLevel(LogLevel.Information));
            AutoscalerLoop loop;
            try
            {
                loop = CreateLoop(settings, run.Client, logging.CreateLogger("Slipway.Autoscaler"));
                await loop.StartAsync(run.CancellationToken);
            }
            catch (AutoscalerConfigException e)
            {
                throw new CliException(ExitCodes.Configuration, e.Message);
            }
            if (run.Get(dryRun))
            {
                var plan = await loop.PlanAsync(run.CancellationToken);
                if (run.Json)
                {
                    run.WriteJson(new JsonArray(plan.Decisions.Select(d => (JsonNode)new JsonObject
                    {
                        ["action"] = d.Action.ToString().ToLowerInvariant(), ["reason"] = d.Reason, ["resource"] = d.Resource,
                        ["launch_id"] = d.LaunchId, ["instance_id"] = d.InstanceId, ["detail"] = d.Detail, ["tasks"] = Output.Array(d.Tasks),
                    }).ToArray()));
                }
                else if (plan.Decisions.Count == 0)
                {
                    run.Out.WriteLine("Nothing to do: capacity matches the queues.");
                }
                else
                {
                    foreach (var decision in plan.Decisions)
                        run.Out.WriteLine("would " + decision);
                }
                return ExitCodes.Ok;
            }
            console.Error.WriteLine($"slipway autoscaler: {settings.Name} serves {string.Join(", ", settings.Queues.Keys)} against {run.Client.Options.ApiServer} (Ctrl-C stops; instances keep running)");
            try
            {
                await loop.RunAsync(run.CancellationToken);
            }
            catch (OperationCanceledException) when (run.CancellationToken.IsCancellationRequested)
            {
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The autoscaler with the providers its configuration names, against <paramref name="client"/>'s server.</summary>
    public static AutoscalerLoop CreateLoop(AutoscalerConfig config, SlipwayClient client, ILogger logger)
    {
        var directory = config.Local.WorkDirectory is { } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".slipway", "autoscaler", config.Name);
        // Local agents reach the server the way this process does; the keys stay in their environment, on this machine.
        var environment = new Dictionary<string, string> { ["CLEARML_API_HOST"] = client.Options.ApiServer.ToString().TrimEnd('/') };
        if (client.Options.WebServer is { } web)
            environment["CLEARML_WEB_HOST"] = web.ToString().TrimEnd('/');
        if (client.Options.FilesServer is { } files)
            environment["CLEARML_FILES_HOST"] = files.ToString().TrimEnd('/');
        if (client.Options.AccessKey is { } key && client.Options.SecretKey is { } secret)
        {
            environment["CLEARML_API_ACCESS_KEY"] = key;
            environment["CLEARML_API_SECRET_KEY"] = secret;
        }
        var server = new ServerConnection(client);
        var providers = new List<IComputeProvider> { new LocalProvider(config.Local, directory, environment) };
        if (config.Ec2 is not null || config.Resources.Values.Any(r => r?.Provider == Ec2Provider.ProviderName))
        {
            // The ec2 section is checked before a client is made from it, so a bad region or URL is named, not thrown.
            if (Ec2ProviderConfig.Problems(config.Ec2, config.Resources.Where(r => r.Value?.Provider == Ec2Provider.ProviderName).Select(r => (r.Key, r.Value)).ToList())
                is { Count: > 0 } problems)
                throw new AutoscalerConfigException(problems);
            // The instances boot elsewhere: the address this process uses may not be one they can reach.
            if (config.Ec2!.ServerUrl is null && client.Options.ApiServer.IsLoopback)
                throw new AutoscalerConfigException([$"ec2.server_url: instances cannot reach {client.Options.ApiServer} (a loopback address); set the server's API address as instances see it"]);
            providers.Add(new Ec2Provider(config, server, client.Options.ApiServer));
        }
        if (config.Kubernetes is { } kubernetes)
            providers.Add(new KubernetesProvider(kubernetes));
        return new AutoscalerLoop(config, server, providers, logger: logger);
    }

    private static ClientCommand Status(CliConsole console)
    {
        var command = new ClientCommand("status", "Show each autoscaler's instances, what they cost, and its latest decisions", console);
        var events = ClientCommand.LimitOption(10, "latest decisions per autoscaler");
        command.Options.Add(events);
        command.SetClientAction(async run =>
        {
            var all = (await run.Client.CallAsync("autoscaler.get_all", [], run.CancellationToken))["autoscalers"] as JsonArray ?? [];
            var result = new JsonArray();
            foreach (var entry in all.OfType<JsonObject>())
            {
                var scaler = Output.Text(entry["scaler"]) ?? "";
                var log = await run.Client.CallAsync("autoscaler.get_events", new JsonObject { ["scaler"] = scaler, ["page_size"] = run.Get(events) }, run.CancellationToken);
                result.Add(new JsonObject { ["scaler"] = scaler, ["updated"] = entry["updated"]?.DeepClone(), ["state"] = entry["state"]?.DeepClone(), ["events"] = log["events"]?.DeepClone() });
            }
            if (run.Json)
            {
                run.WriteJson(result);
                return ExitCodes.Ok;
            }
            if (result.Count == 0)
            {
                run.Note("No autoscaler has run against this server.");
                return ExitCodes.Ok;
            }
            foreach (var scaler in result.OfType<JsonObject>())
            {
                var state = scaler["state"]?.Deserialize<AutoscalerState>(AutoscalerState.Json) ?? new AutoscalerState();
                var live = state.Live.ToList();
                run.Out.WriteLine($"{Output.Text(scaler["scaler"])}: {live.Count} live instance(s), ${live.Sum(r => r.PriceUsdPerHour).ToString("0.##", CultureInfo.InvariantCulture)}/h now, " +
                                  $"${(state.SpentUsd + live.Sum(r => r.SpentUsd(run.Now))).ToString("0.##", CultureInfo.InvariantCulture)} spent in {state.Month}");
                if (state.Instances.Count > 0)
                {
                    var table = new Table("RESOURCE", "LAUNCH", "INSTANCE", "STATUS", "MARKET", "AGE", "$/H", "TASKS").AlignRight("$/H");
                    foreach (var r in state.Instances.OrderByDescending(r => r.LaunchedAt))
                    {
                        table.Add(r.Resource, r.LaunchId, r.InstanceId ?? "-", r.Status.ToString().ToLowerInvariant() + (r.EndReason is { } why ? $" ({why})" : ""),
                            r.Market, Output.Duration((r.EndedAt ?? run.Now) - r.LaunchedAt), r.PriceUsdPerHour.ToString("0.###", CultureInfo.InvariantCulture),
                            string.Join(",", r.RunningTasks.Values));
                    }
                    table.Write(run.Out);
                }
                if (scaler["events"] is JsonArray { Count: > 0 } list)
                {
                    run.Out.WriteLine("latest decisions:");
                    foreach (var e in list.OfType<JsonObject>())
                        run.Out.WriteLine($"  {Output.Text(e["timestamp"])} {Output.Text(e["action"])} {Output.Text(e["resource"])} {Output.Text(e["launch_id"])}: {Output.Text(e["reason"])} {Output.Text(e["detail"])}");
                }
                run.Out.WriteLine();
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
