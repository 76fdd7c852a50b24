using System.CommandLine;
using Microsoft.Extensions.Logging;
using Slipway.Server;

namespace Slipway.Commands;

/// <summary>`slipway server`: runs the API (and, as they arrive, web and file server) until Ctrl-C.</summary>
public static class ServerCommand
{
    public static Command Create(CliConsole console)
    {
        // One switch per setting that may go on the command line, named and described by the settings list.
        var switches = ServerSettings.All.Where(s => s.OnCommandLine)
            .Select(s => (s.Key, Option: new Option<string?>(s.Switch) { Description = $"{s.Description} (default: {s.Default}; env {s.EnvironmentVariable})" }))
            .ToList();
        var servePort = new Option<int?>("--serve-port")
        {
            Description = "Also run the inference host (as 'slipway serve' does) in this process on this port, as the admin; for one machine",
        };
        var config = new Option<string?>("--config") { Description = $"JSON settings file (keys: {string.Join(", ", ServerOptions.Names)})" };
        var command = new Command("server", "Start the Slipway server");
        foreach (var (_, option) in switches)
            command.Options.Add(option);
        command.Options.Add(servePort);
        command.Options.Add(config);
        command.SetAction(async (parse, ct) =>
        {
            ServerOptions options;
            try
            {
                options = ServerOptions.Load(parse.GetValue(config), switches.ToDictionary(s => s.Key, s => parse.GetValue(s.Option)));
            }
            catch (OptionsException e)
            {
                foreach (var problem in e.Problems)
                    console.Error.WriteLine($"slipway server: {problem}");
                return 2;
            }
            SlipwayServer server;
            try
            {
                server = await SlipwayServer.StartAsync(options, ct: ct);
            }
            catch (ServerStartException e)
            {
                console.Error.WriteLine($"slipway server: {e.Message}");
                return ExitCodes.Failed;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return ExitCodes.Cancelled;
            }
            catch (Exception e) when (Environment.GetEnvironmentVariable("SLIPWAY_DEBUG") != "1")
            {
                console.Error.WriteLine($"slipway server: could not start: unexpected {e.GetType().Name}: {ExitCodes.OneLine(e.Message)} (SLIPWAY_DEBUG=1 shows the details)");
                return ExitCodes.Failed;
            }
            await using var running = server;
            console.Out.WriteLine($"Slipway {Slipway.Server.Auth.TokenService.ServerVersion} on {(options.UsesPostgres ? "PostgreSQL" : "SQLite")}, data in {options.DataDir}, files in {(options.S3 is null ? "the data directory" : options.Blobs)}");
            console.Out.WriteLine($"  API:   {server.ApiUrl}");
            console.Out.WriteLine($"  Web:   {server.WebUrl}");
            console.Out.WriteLine($"  Files: {server.FilesUrl}");
            if (server.NewAdmin is { } admin)
            {
                // The secret goes only to the owner-only clearml.conf: terminal scrollback and service logs keep stdout.
                console.Out.WriteLine($"Created the admin key pair (access_key {admin.AccessKey}); its secret key is in {server.ConfigPath}, readable only by you.");
            }
            console.Out.WriteLine($"Point the ClearML SDK here: CLEARML_CONFIG_FILE={server.ConfigPath} python train.py");
            Slipway.Serving.ServingHost? serving = null;
            if (parse.GetValue(servePort) is { } port)
            {
                // The in-process host is a client like any other: it signs in with the admin key pair the server wrote.
                try
                {
                    serving = await Slipway.Serving.ServingHost.StartAsync(new Slipway.Serving.ServingOptions
                    {
                        Host = options.Host, Port = port, CacheFolder = Path.Combine(options.DataDir, "serving-cache"),
                    }, Slipway.Client.ClientOptions.FromFile(server.ConfigPath), ct: ct);
                }
                catch (Exception e) when (e is ArgumentException or IOException or Slipway.Client.SlipwayException)
                {
                    console.Error.WriteLine($"slipway server: the inference host could not start: {ExitCodes.OneLine(e.Message)}");
                    return ExitCodes.Failed;
                }
                console.Out.WriteLine($"  Serve: {serving.Url}");
            }
            using var autoscaling = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var autoscaler = options.Autoscaler is { } file ? RunAutoscalerAsync(console, server, file, autoscaling.Token) : Task.CompletedTask;
            await server.WaitForShutdownAsync(ct);
            await autoscaling.CancelAsync();
            await autoscaler;
            if (serving is not null)
                await serving.DisposeAsync();
            return 0;
        });
        return command;
    }

    /// <summary>
    /// One-machine setups: the autoscaler runs in the server's process, signed in with the admin keys the server keeps in its
    /// clearml.conf. A bad configuration is reported and the server keeps serving without it.
    /// </summary>
    private static async Task RunAutoscalerAsync(CliConsole console, SlipwayServer server, string file, CancellationToken ct)
    {
        try
        {
            var settings = Slipway.Autoscaler.AutoscalerConfig.Load(file);
            var clientOptions = ClientCommand.LoadOptions(server.ConfigPath);
            clientOptions.ApiServer = server.ApiUrl;
            using var client = new Slipway.Client.SlipwayClient(clientOptions);
            using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            }));
            var loop = AutoscalerCommand.CreateLoop(settings, client, logging.CreateLogger("Slipway.Autoscaler"));
            await loop.StartAsync(ct);
            console.Out.WriteLine($"Autoscaler {settings.Name}: serving {string.Join(", ", settings.Queues.Keys)}");
            await loop.RunAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is Slipway.Autoscaler.AutoscalerConfigException or CliException or Slipway.Client.SlipwayException)
        {
            console.Error.WriteLine($"slipway server: the autoscaler does not run: {e.Message}");
        }
    }
}
