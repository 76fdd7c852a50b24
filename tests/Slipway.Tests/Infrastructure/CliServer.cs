using System.Text.Json.Nodes;
using Slipway.Client;
using Slipway.Commands;
using Slipway.Server;

namespace Slipway.Tests.Infrastructure;

/// <summary>
/// The shared test server (SQLite, local files, own data directory), a clearml.conf pointing at it for the
/// commands' --conf, a client to seed and check data, and the command line run in-process.
/// </summary>
public sealed class CliServer : IAsyncLifetime
{
    private readonly TestServer _testServer = new();

    public string DataDir => _testServer.DataDir;

    public SlipwayServer Server => _testServer.Server;

    /// <summary>The clearml.conf the tests pass as --conf (never the machine's own).</summary>
    public string ConfFile => Path.Combine(DataDir, "test-clearml.conf");

    public SlipwayClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _testServer.InitializeAsync();
        await File.WriteAllTextAsync(ConfFile, $$"""
            api {
                api_server: "{{Server.ApiUrl.ToString().TrimEnd('/')}}"
                web_server: "{{Server.WebUrl.ToString().TrimEnd('/')}}"
                files_server: "{{Server.FilesUrl.ToString().TrimEnd('/')}}"
                credentials {
                    "access_key": "{{Server.NewAdmin!.AccessKey}}"
                    "secret_key": "{{Server.NewAdmin!.SecretKey}}"
                }
            }
            """);
        Client = new SlipwayClient(ClientOptions.FromFile(ConfFile));
    }

    /// <summary>A folder under the data directory, removed with it.</summary>
    public string NewFolder()
    {
        var path = Path.Combine(DataDir, "work-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs a command line as `slipway` would, with this server's --conf appended.</summary>
    public Task<CliRun> RunAsync(params string[] args) => CliRun.RunAsync([.. args, "--conf", ConfFile]);

    /// <summary>A unique name, so tests sharing the server see only their own data.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    public async Task<string> CreateProjectAsync(string? name = null) => await Client.Projects.GetOrCreateAsync(name ?? Unique("project"));

    /// <summary>Creates a draft training task, with hyperparameters given as "Section/name" → value.</summary>
    public async Task<string> CreateTaskAsync(string name, string projectId, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var body = new JsonObject { ["name"] = name, ["type"] = "training", ["project"] = projectId };
        body["script"] = new JsonObject { ["repository"] = "https://example.com/repo.git", ["branch"] = "main", ["entry_point"] = "train.py" };
        var id = (await Client.CallAsync("tasks.create", body))["id"]!.GetValue<string>();
        if (parameters is not null)
            await Client.Tasks.SetParametersAsync(id, parameters);
        return id;
    }

    /// <summary>Marks a task as running, as an SDK or agent does when it starts.</summary>
    public Task StartTaskAsync(string taskId) => Client.CallAsync("tasks.started", new JsonObject { ["task"] = taskId });

    public Task CompleteTaskAsync(string taskId) => Client.CallAsync("tasks.completed", new JsonObject { ["task"] = taskId });

    /// <summary>Adds console lines to a task, as the SDK reports them.</summary>
    public Task LogAsync(string taskId, params string[] lines) => Client.CallAsync("events.add_batch", new JsonObject
    {
        ["requests"] = new JsonArray(lines.Select(line => (JsonNode)new JsonObject { ["type"] = "log", ["task"] = taskId, ["level"] = "info", ["msg"] = line }).ToArray()),
    });

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        await _testServer.DisposeAsync();
    }
}

/// <summary>The outcome of one command line: exit code, stdout, stderr.</summary>
public sealed record CliRun(int Exit, string Out, string Error)
{
    /// <summary>Runs a command line in-process with captured writers (no terminal: no progress bar, no prompts).</summary>
    public static async Task<CliRun> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Cli.RunAsync(args, output, error);
        return new CliRun(exit, output.ToString(), error.ToString());
    }

    /// <summary>Stdout parsed as JSON, after checking the command succeeded.</summary>
    public JsonNode Json()
    {
        Assert.True(Exit == 0, $"exit {Exit}: {Error}");
        return JsonNode.Parse(Out) ?? throw new InvalidOperationException("null JSON");
    }

    /// <summary>Checks the command succeeded (showing its stderr when not).</summary>
    public CliRun Ok()
    {
        Assert.True(Exit == 0, $"exit {Exit}: {Error}");
        return this;
    }
}
