using System.CommandLine;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Commands;

/// <summary>
/// A command that talks to the server: it has <c>--conf</c> and <c>--json</c>, gets a <see cref="SlipwayClient"/>
/// made from them, and its failures are reported as one line with an exit code (<see cref="ExitCodes"/>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1010", Justification = "System.CommandLine's Command is IEnumerable only for collection initializers; nothing enumerates a command.")]
public sealed class ClientCommand : Command
{
    private readonly CliConsole _console;

    public ClientCommand(string name, string description, CliConsole console) : base(name, description) => _console = console;

    public Option<string?> Conf { get; } = new("--conf")
    {
        Description = "Read the server and keys from this clearml.conf only (CLEARML_* variables are then ignored); default: as 'slipway --help' says",
        HelpName = "file",
    };

    public Option<bool> Json { get; } = new("--json") { Description = "Print JSON on stdout for scripts (stable field names, full ids, ISO 8601 UTC times) instead of text" };

    /// <summary>A <c>--limit</c> option: at most this many items, 1 to 10,000.</summary>
    public static Option<int> LimitOption(int defaultValue, string what)
    {
        var limit = new Option<int>("--limit") { Description = $"Show at most this many {what} (1 to 10000)", DefaultValueFactory = _ => defaultValue, HelpName = "n" };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 10_000)
                result.AddError("--limit must be between 1 and 10000");
        });
        return limit;
    }

    /// <summary>A <c>--name</c> option holding a regular expression, checked before anything is sent.</summary>
    public static Option<string?> NameRegexOption(string what)
    {
        var name = new Option<string?>("--name") { Description = $"Only {what} whose name matches this regular expression", HelpName = "regex" };
        name.Validators.Add(result =>
        {
            try
            {
                _ = new System.Text.RegularExpressions.Regex(result.GetValueOrDefault<string?>() ?? "");
            }
            catch (ArgumentException e)
            {
                result.AddError($"--name is not a valid regular expression: {e.Message}");
            }
        });
        return name;
    }

    /// <summary>Sets what the command does with a connected client; the returned value is the exit code.</summary>
    public void SetClientAction(Func<ClientInvocation, Task<int>> action) => SetClientAction(action, null);

    /// <summary>As above, with the client's options from <paramref name="connect"/> when it gives any (the agent's enrollment), else from the configuration.</summary>
    public void SetClientAction(Func<ClientInvocation, Task<int>> action, Func<ParseResult, CancellationToken, Task<ClientOptions?>>? connect)
    {
        // Added here rather than in the constructor, so that --help lists them after the command's own options.
        Options.Add(Conf);
        Options.Add(Json);
        SetAction((parse, ct) => ExitCodes.RunAsync(_console, parse, async () =>
        {
            var options = connect is null ? null : await connect(parse, ct);
            using var client = new SlipwayClient(options ?? LoadOptions(parse.GetValue(Conf)));
            return await action(new ClientInvocation(parse, client, _console, parse.GetValue(Json), ct));
        }, ct));
    }

    /// <summary>
    /// The server and keys: from the named file only, or found the way the SDK finds them; on the machine that
    /// runs <c>slipway server</c>, its admin clearml.conf is used when nothing else is configured.
    /// </summary>
    public static ClientOptions LoadOptions(string? confFile)
    {
        ClientOptions options;
        string source;
        try
        {
            if (confFile is not null)
            {
                source = confFile;
                options = ClientOptions.FromFile(confFile);
            }
            else
            {
                source = DefaultConfFile();
                options = ClientOptions.FromEnvironment(source);
            }
        }
        catch (SlipwayException e)
        {
            throw new CliException(ExitCodes.Configuration, e.Message);
        }
        if (options.AuthToken is null && (options.AccessKey is null || options.SecretKey is null))
            throw new CliException(ExitCodes.Configuration, confFile is not null
                ? $"no credentials: {source} has no api.credentials (run 'slipway login')"
                : $"no credentials: {source} has no api.credentials (run 'slipway login'), and CLEARML_API_ACCESS_KEY/CLEARML_API_SECRET_KEY are not set");
        // A command line fails fast when the server is down rather than retrying for half a minute.
        options.MaxRetries = 3;
        return options;
    }

    /// <summary>CLEARML_CONFIG_FILE, else ~/clearml.conf, else (when only that exists) the local server's clearml.conf.</summary>
    public static string DefaultConfFile()
    {
        if (Environment.GetEnvironmentVariable("CLEARML_CONFIG_FILE") is { Length: > 0 } named)
            return named;
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var user = Path.Combine(home, "clearml.conf");
        var server = Path.Combine(Environment.GetEnvironmentVariable("SLIPWAY_DATA") is { Length: > 0 } data ? data : Path.Combine(home, ".slipway"), "clearml.conf");
        return !File.Exists(user) && File.Exists(server) ? server : user;
    }
}

/// <summary>One run of a <see cref="ClientCommand"/>: its parsed values, the client, where to write, and lookups commands share.</summary>
public sealed class ClientInvocation(ParseResult parse, SlipwayClient client, CliConsole console, bool json, CancellationToken cancellationToken)
{
    public ParseResult Parse { get; } = parse;

    public SlipwayClient Client { get; } = client;

    public CliConsole Console { get; } = console;

    /// <summary>True when <c>--json</c> was given.</summary>
    public bool Json { get; } = json;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    public TextWriter Out => Console.Out;

    public DateTimeOffset Now { get; } = DateTimeOffset.UtcNow;

    public T? Get<T>(Option<T> option) => Parse.GetValue(option);

    public T? Get<T>(Argument<T> argument) => Parse.GetValue(argument);

    public void WriteJson(JsonNode? node) => Output.WriteJson(Out, node);

    /// <summary>Says on stderr that a list is empty (stdout stays empty, as scripts expect).</summary>
    public void Note(string message) => Console.Error.WriteLine(message);

    /// <summary>The id of the project with this full name; fails with exit code 1 when there is none.</summary>
    public async Task<string> RequireProjectIdAsync(string name) =>
        (await Client.Projects.FindAsync(name, CancellationToken))?.Id ?? throw CliException.NotFound($"no project named '{name}'");

    /// <summary>Project names by id, hidden ones included, for list columns.</summary>
    public async Task<Dictionary<string, string>> ProjectNamesAsync()
    {
        var projects = await Client.Projects.ListAsync(includeHidden: true, CancellationToken);
        return projects.ToDictionary(p => p.Id, p => p.Name);
    }

    /// <summary>A project's name from <see cref="ProjectNamesAsync"/>'s answer; its id when unknown, "-" for none.</summary>
    public static string ProjectName(IReadOnlyDictionary<string, string> projects, string? id) =>
        id is null ? "-" : projects.TryGetValue(id, out var name) ? name : id;

    /// <summary>The queue with this name or id; fails with exit code 1 when there is none.</summary>
    public async Task<QueueInfo> RequireQueueAsync(string nameOrId) =>
        await Client.Queues.FindAsync(nameOrId, CancellationToken)
        ?? throw CliException.NotFound($"no queue named '{nameOrId}' (see 'slipway queue list'; 'slipway queue create {nameOrId}' makes one)");
}
