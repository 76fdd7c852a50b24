using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Slipway.Commands;

/// <summary>
/// The <c>slipway</c> command line: builds the command tree and runs it against a <see cref="CliConsole"/>, so
/// the executable and the tests run commands the same way. Parse errors exit with 2 (usage).
/// </summary>
public static class Cli
{
    /// <summary>Runs a command line with the given writers (no terminal: no progress bars, no prompts, no signal handling).</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct = default) =>
        RunAsync(args, new CliConsole(output, error), handleTermination: false, ct);

    /// <summary>Runs a command line; with <paramref name="handleTermination"/>, Ctrl-C and SIGTERM cancel the command.</summary>
    public static async Task<int> RunAsync(string[] args, CliConsole console, bool handleTermination, CancellationToken ct = default)
    {
        var root = CreateRoot(console);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            var command = ExitCodes.CommandPath(parse);
            foreach (var error in parse.Errors)
                console.Error.WriteLine($"{command}: {error.Message}");
            console.Error.WriteLine($"See '{command} --help'.");
            return ExitCodes.Usage;
        }
        var invocation = new InvocationConfiguration { Output = console.Out, Error = console.Error };
        if (!handleTermination)
            invocation.ProcessTerminationTimeout = null;
        return await parse.InvokeAsync(invocation, ct);
    }

    public static RootCommand CreateRoot(CliConsole console)
    {
        var root = new RootCommand("Slipway: experiment tracking, datasets, queues and agents, speaking the ClearML API.")
        {
            ServerCommand.Create(console),
            LoginCommand.Create(console),
            TaskCommands.Create(console),
            ModelCommands.Create(console),
            QueueCommands.Create(console),
            WorkerCommands.Create(console),
            DatasetCommands.Create(console),
            ProjectCommands.Create(console),
            UserCommand.Create(console),
            UserCommand.Audit(console),
            GcCommand.Create(console),
            AgentCommand.Create(console),
            AutoscalerCommand.Create(console),
            ServeCommand.Create(console),
            ServingCommands.Create(console),
        };
        var help = root.Options.OfType<HelpOption>().Single();
        if (help.Action is HelpAction standard)
        {
            standard.MaxWidth = console.Width;
            help.Action = new HelpWithFooter(standard);
        }
        return root;
    }

    /// <summary>The standard help, followed by where the client commands find the server, and the exit codes.</summary>
    private sealed class HelpWithFooter(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var exit = standard.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            var command = parseResult.CommandResult.Command;
            if (command is RootCommand)
                output.WriteLine(RootFooter);
            else if (command is ClientCommand || command.Name == "login")
                output.WriteLine(ExitCodes.Summary);
            return exit;
        }
    }

    private const string RootFooter = """
        Client commands (task, model, queue, worker, dataset, project, user, gc, agent, autoscaler, serve, serving) find the server
        and keys in --conf FILE, else the way the ClearML SDK does: CLEARML_API_HOST, CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY,
        else CLEARML_CONFIG_FILE,
        else ~/clearml.conf (written by 'slipway login'), else ~/.slipway/clearml.conf (written by 'slipway server').
        With --json they print JSON for scripts; text output is for people and may change.

        Exit codes:
          0    ok
          1    the server refused or failed the request (unknown id, wrong state, unreachable), or a file operation failed
          2    usage error (unknown command or option, missing or malformed value)
          3    no usable configuration, or the server rejected the keys
          130  interrupted
        """;
}
