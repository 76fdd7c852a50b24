using Slipway.Agent;
using Slipway.Client;

namespace Slipway.TestSupport.Agents;

/// <summary>An agent running in the test process against a test server, with its own work directory; disposing stops it.</summary>
public sealed class RunningAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly SlipwayClient _client;
    private readonly Task _run;

    public RunningAgent(TestServer server, AgentOptions options)
    {
        Options = options;
        var clientOptions = server.Options();
        clientOptions.MaxRetries = 1;
        _client = new SlipwayClient(clientOptions);
        Agent = new Slipway.Agent.Agent(_client, options);
        _run = Task.Run(() => Agent.RunAsync(_stop.Token));
    }

    public Slipway.Agent.Agent Agent { get; }

    /// <summary>Ends when the agent stops by itself (drained, its dead-man's switch) or is stopped.</summary>
    public Task Completion => _run;

    public AgentOptions Options { get; }

    /// <summary>Test defaults: short intervals, a temporary work directory, Debian's python3.</summary>
    public static AgentOptions DefaultOptions(string queue, string? workDirectory = null)
    {
        var options = new AgentOptions
        {
            WorkDirectory = workDirectory ?? Path.Combine(Path.GetTempPath(), "slipway-agent-work-" + Guid.NewGuid().ToString("N")[..12]),
            WorkerPrefix = "test-" + Guid.NewGuid().ToString("N")[..6],
            Python = "/usr/bin/python3",
            PollWait = TimeSpan.FromSeconds(5),
            AbortPollInterval = TimeSpan.FromMilliseconds(200),
            ReportInterval = TimeSpan.FromSeconds(1),
            ConsoleFlushInterval = TimeSpan.FromMilliseconds(100),
            KillGracePeriod = TimeSpan.FromSeconds(2),
        };
        options.Queues.Add(queue);
        return options;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
        }
        Agent.Dispose();
        _client.Dispose();
        _stop.Dispose();
        try
        {
            Directory.Delete(Options.WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
