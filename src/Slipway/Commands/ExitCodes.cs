using System.CommandLine;
using System.CommandLine.Parsing;
using Slipway.Client;

namespace Slipway.Commands;

/// <summary>
/// The exit codes scripts can rely on, and the one place that turns a command's failure into one line on
/// stderr and its code. Stack traces are printed only with SLIPWAY_DEBUG=1.
/// </summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The server refused or failed the request (unknown id, wrong state, unreachable), or a local file operation failed.</summary>
    public const int Failed = 1;

    /// <summary>The command line is wrong: unknown command or option, missing or malformed value.</summary>
    public const int Usage = 2;

    /// <summary>No usable configuration: no server or keys configured, an unreadable clearml.conf, or keys the server rejects.</summary>
    public const int Configuration = 3;

    /// <summary>Interrupted (Ctrl-C).</summary>
    public const int Cancelled = 130;

    /// <summary>What <c>--help</c> and the README say about them.</summary>
    public const string Summary =
        "Exit codes: 0 ok; 1 the server refused or failed the request (e.g. unknown id); 2 usage error; " +
        "3 no usable configuration or credentials; 130 interrupted.";

    /// <summary>Runs a command's work, mapping its failures to a message and an exit code.</summary>
    public static async Task<int> RunAsync(CliConsole console, ParseResult parse, Func<Task<int>> action, CancellationToken ct)
    {
        var command = CommandPath(parse);
        try
        {
            return await action();
        }
        catch (CliException e)
        {
            console.Error.WriteLine($"{command}: {OneLine(e.Message)}");
            if (e.ExitCode == Usage)
                console.Error.WriteLine($"See '{command} --help'.");
            return e.ExitCode;
        }
        catch (SlipwayException e) when (e.ResultCode == 401)
        {
            console.Error.WriteLine($"{command}: the server refused the credentials: {OneLine(e.ServerMessage ?? e.Message)} (run 'slipway login' or check --conf)");
            return Configuration;
        }
        catch (SlipwayException e)
        {
            console.Error.WriteLine($"{command}: {OneLine(e.Message)}");
            return Failed;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            console.Error.WriteLine($"{command}: interrupted");
            return Cancelled;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            console.Error.WriteLine($"{command}: {OneLine(e.Message)}");
            return Failed;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("SLIPWAY_DEBUG") != "1")
        {
            console.Error.WriteLine($"{command}: unexpected {e.GetType().Name}: {OneLine(e.Message)} (SLIPWAY_DEBUG=1 shows the details)");
            return Failed;
        }
    }

    /// <summary>"slipway task list": the names from the root to the command that ran.</summary>
    public static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is CommandResult parent; result = parent)
            names.Add(result.Command.Name);
        names.Add("slipway");
        names.Reverse();
        return string.Join(' ', names);
    }

    public static string OneLine(string message) => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>A failure the command itself recognised (bad value, nothing found, refused), with its exit code.</summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public static CliException Usage(string message) => new(ExitCodes.Usage, message);

    public static CliException NotFound(string message) => new(ExitCodes.Failed, message);
}
