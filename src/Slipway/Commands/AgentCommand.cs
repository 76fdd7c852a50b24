using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Slipway.Agent;

namespace Slipway.Commands;

/// <summary>`slipway agent --queue NAME …`: runs tasks from queues on this machine until Ctrl-C.</summary>
public static class AgentCommand
{
    public static ClientCommand Create(CliConsole console)
    {
        var queues = new Option<string[]>("--queue") { Description = "Serve this queue (name or id); repeat for several, highest priority first", HelpName = "name", Required = true };
        // The defaults are AgentOptions' own, so that they are written once.
        var defaults = new AgentOptions();
        var slots = new Option<int>("--slots")
        {
            Description = string.Create(CultureInfo.InvariantCulture, $"Run up to this many tasks at once, one per slot (default {defaults.Slots})"), DefaultValueFactory = _ => defaults.Slots, HelpName = "n",
        };
        slots.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 256)
                result.AddError("--slots must be between 1 and 256");
        });
        var gpus = new Option<string?>("--gpus") { Description = "GPUs shared out among the slots as CUDA_VISIBLE_DEVICES, e.g. 0,1", HelpName = "ids" };
        var workDir = new Option<string?>("--work-dir") { Description = "Task directories, the git cache and Python environments (default ~/.slipway/agent)", HelpName = "dir" };
        var python = new Option<string?>("--python") { Description = "The Python interpreter that builds environments (default python3)", HelpName = "path" };
        var systemPython = new Option<bool>("--system-python") { Description = "Run Python tasks with that interpreter itself, without a virtual environment (also CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL=1)" };
        var pipArgs = new Option<string[]>("--pip-arg") { Description = "Pass this argument to pip install, e.g. --pip-arg=--no-index --pip-arg=--find-links=/wheels; repeat", HelpName = "arg" };
        var workerId = new Option<string?>("--worker-id") { Description = "Worker id prefix; slots report as PREFIX:cpu:N or PREFIX:gpuN (default CLEARML_WORKER_ID, else the host name)", HelpName = "id" };
        var ping = new Option<int>("--ping")
        {
            Description = string.Create(CultureInfo.InvariantCulture, $"Seconds between pings of a running task and machine-stats reports (default {defaults.ReportInterval.TotalSeconds:0})"),
            DefaultValueFactory = _ => (int)defaults.ReportInterval.TotalSeconds, HelpName = "seconds",
        };
        ping.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
                result.AddError("--ping must be at least 1 second");
        });
        var keep = new Option<bool>("--keep-work-dirs") { Description = "Keep each task's working directory after it ends" };
        var idleShutdown = DurationOption("--idle-shutdown", "Stop when every slot has been idle this long, e.g. 15m (a dead autoscaler then leaks no machine)");
        var unreachable = DurationOption("--shutdown-if-server-unreachable", "Stop when the server has not answered for this long, e.g. 30m");
        var maxTasks = new Option<int?>("--max-tasks") { Description = "Stop after this many tasks have run, e.g. 1 for a pod or machine that runs one task", HelpName = "n" };
        maxTasks.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
                result.AddError("--max-tasks must be at least 1");
        });
        var shutdownCommand = new Option<string?>("--shutdown-command") { Description = "Run this shell command when one of the two above stops the agent, or it stops because the server drained it, e.g. 'sudo shutdown -h now'", HelpName = "command" };
        var enrollServer = new Option<string?>("--enroll-server")
        {
            Description = $"Enroll with this server's API address: trade the one-time token in {EnrollmentTokenVariable} for this agent's own key pair (autoscaled instances)",
            HelpName = "url",
        };
        var instanceId = new Option<string?>("--instance-id") { Description = "The cloud instance id, recorded with the enrollment", HelpName = "id" };
        var watchSpot = new Option<bool>("--watch-spot-notice")
        {
            Description = "Poll EC2's spot interruption notice (IMDSv2); on a notice take no more work, re-queue running tasks at once and report it to the autoscaler",
        };
        var imds = new Option<string?>("--imds") { Description = "The instance metadata service's address (default SLIPWAY_IMDS, else http://169.254.169.254)", HelpName = "url" };
        imds.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } url && (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https")))
                result.AddError($"--imds wants an http URL such as http://169.254.169.254 (got '{url}')");
        });
        var command = new ClientCommand("agent", "Run tasks from queues on this machine: prepare the code and environment, run it, report, until Ctrl-C", console)
        {
            queues, slots, gpus, workDir, python, systemPython, pipArgs, workerId, ping, keep, idleShutdown, unreachable, shutdownCommand, maxTasks, enrollServer, instanceId, watchSpot, imds,
        };
        command.SetClientAction(async run =>
        {
            var options = new AgentOptions { Slots = run.Get(slots), ReportInterval = TimeSpan.FromSeconds(run.Get(ping)) };
            options.Queues.AddRange(run.Get(queues) ?? []);
            if (run.Get(gpus) is { Length: > 0 } ids)
                options.Gpus.AddRange(ids.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            if (run.Get(workDir) is { } dir)
                options.WorkDirectory = Path.GetFullPath(dir);
            if (run.Get(python) is { } interpreter)
                options.Python = interpreter;
            if (run.Get(systemPython))
                options.SystemPython = true;
            options.PipArguments.AddRange(run.Get(pipArgs) ?? []);
            if (run.Get(workerId) is { } prefix)
                options.WorkerPrefix = prefix;
            if (run.Get(keep))
                options.KeepWorkDirectories = true;
            options.IdleShutdown = run.Get(idleShutdown);
            options.ServerUnreachableShutdown = run.Get(unreachable);
            options.MaxTasks = run.Get(maxTasks);
            options.WatchSpotNotice = run.Get(watchSpot);
            if (run.Get(imds) is { } imdsUrl)
                options.Imds = new Uri(imdsUrl);
            Agent.Agent agent;
            using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            }).SetMinimumLevel(LogLevel.Information));
            try
            {
                agent = new Agent.Agent(run.Client, options, logging.CreateLogger<Agent.Agent>());
            }
            catch (ArgumentException e)
            {
                throw CliException.Usage(e.Message);
            }
            using var _ = agent;
            console.Error.WriteLine($"slipway agent: serving {string.Join(", ", options.Queues)} as {string.Join(", ", agent.WorkerIds)} against {run.Client.Options.ApiServer} (Ctrl-C stops)");
            try
            {
                await agent.RunAsync(run.CancellationToken);
            }
            catch (OperationCanceledException) when (run.CancellationToken.IsCancellationRequested)
            {
            }
            if (agent.ShutdownReason is { } reason)
            {
                console.Error.WriteLine($"slipway agent: stopped: {reason}");
                if (run.Get(shutdownCommand) is { Length: > 0 } shell)
                {
                    var start = new System.Diagnostics.ProcessStartInfo("/bin/sh") { UseShellExecute = false };
                    start.ArgumentList.Add("-c");
                    start.ArgumentList.Add(shell);
                    using var process = System.Diagnostics.Process.Start(start);
                    if (process is not null)
                        await process.WaitForExitAsync(CancellationToken.None);
                    console.Error.WriteLine($"slipway agent: ran the shutdown command (exit {process?.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"})");
                }
            }
            return ExitCodes.Ok;
        }, async (parse, ct) => parse.GetValue(enrollServer) is { } server ? await EnrollAsync(console, server, parse.GetValue(instanceId), ct) : null);
        return command;
    }

    public const string EnrollmentTokenVariable = "SLIPWAY_ENROLLMENT_TOKEN";

    /// <summary>The client options of an enrolled agent: the server's address and the key pair the token was traded for (in memory only).</summary>
    private static async Task<Slipway.Client.ClientOptions> EnrollAsync(CliConsole console, string server, string? instanceId, CancellationToken ct)
    {
        if (!Uri.TryCreate(server, UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https"))
            throw CliException.Usage($"--enroll-server wants the server's API address, e.g. https://slipway.example:8008 (got '{server}')");
        var token = Environment.GetEnvironmentVariable(EnrollmentTokenVariable);
        if (string.IsNullOrEmpty(token))
            throw new CliException(ExitCodes.Configuration, $"--enroll-server needs the one-time token in {EnrollmentTokenVariable}");
        // Tasks inherit the environment: the token (spent in a moment anyway) does not go with it.
        Environment.SetEnvironmentVariable(EnrollmentTokenVariable, null);
        AgentEnrollment.Credentials credentials;
        try
        {
            credentials = await AgentEnrollment.ExchangeAsync(api, token, instanceId, TimeSpan.FromMinutes(2), ct);
        }
        catch (Slipway.Client.SlipwayException e)
        {
            throw new CliException(ExitCodes.Configuration, e.Message);
        }
        console.Error.WriteLine($"slipway agent: enrolled with {api}" + (instanceId is { Length: > 0 } ? $" as instance {instanceId}" : ""));
        return new Slipway.Client.ClientOptions
        {
            ApiServer = api,
            WebServer = Environment.GetEnvironmentVariable("CLEARML_WEB_HOST") is { Length: > 0 } web ? new Uri(web) : null,
            FilesServer = Environment.GetEnvironmentVariable("CLEARML_FILES_HOST") is { Length: > 0 } files ? new Uri(files) : null,
            AccessKey = credentials.AccessKey,
            SecretKey = credentials.SecretKey,
        };
    }

    /// <summary>A duration such as 90s, 15m, 2h or 1d (a bare number is seconds).</summary>
    private static Option<TimeSpan?> DurationOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "duration",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value.Trim() : "";
            if (ParseDuration(text) is { } duration)
                return duration;
            result.AddError($"{name} wants a positive duration such as 90s, 15m, 2h or 1d (got '{text}')");
            return null;
        },
    };

    public static TimeSpan? ParseDuration(string text)
    {
        if (text.Length == 0)
            return null;
        var unit = char.IsLetter(text[^1]) ? char.ToLowerInvariant(text[^1]) : 's';
        var number = char.IsLetter(text[^1]) ? text[..^1] : text;
        if (!double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) || !(value > 0) || value > 1e7)
            return null;
        return unit switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'h' => TimeSpan.FromHours(value),
            'd' => TimeSpan.FromDays(value),
            _ => null,
        };
    }
}
