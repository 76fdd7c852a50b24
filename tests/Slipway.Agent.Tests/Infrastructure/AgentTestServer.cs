using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Server;

namespace Slipway.Agent.Tests.Infrastructure;

/// <summary>A real Slipway server on loopback with its own data directory; it can be restarted on the same ports and data.</summary>
public sealed class AgentTestServer : IAsyncDisposable
{
    private SlipwayServer? _server;
    private AdminCredentials? _admin;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "slipway-agent-test-" + Guid.NewGuid().ToString("N")[..12]);

    public SlipwayServer Server => _server ?? throw new InvalidOperationException("not started");

    public static async Task<AgentTestServer> StartAsync(TimeSpan? watchdogTimeout = null)
    {
        var server = new AgentTestServer();
        await server.StartOnAsync(0, 0, 0, watchdogTimeout);
        return server;
    }

    private async Task StartOnAsync(int api, int web, int files, TimeSpan? watchdogTimeout)
    {
        var options = new ServerOptions { DataDir = DataDir, Host = "127.0.0.1", ApiPort = api, WebPort = web, FilesPort = files };
        if (watchdogTimeout is { } timeout)
            options.WatchdogTimeout = timeout;
        _server = await SlipwayServer.StartAsync(options, logging => logging.AddFilter(_ => false));
        _admin ??= _server.NewAdmin;
    }

    /// <summary>Stops the server (in-flight requests are cut) and starts it again on the same ports and data.</summary>
    public async Task StopAsync()
    {
        await Server.DisposeAsync();
    }

    public Task StartAgainAsync() =>
        StartOnAsync(Server.ApiUrl.Port, Server.WebUrl.Port, Server.FilesUrl.Port, Server.Options.WatchdogTimeout);

    public ClientOptions Options() => new()
    {
        ApiServer = Server.ApiUrl,
        WebServer = Server.WebUrl,
        FilesServer = Server.FilesUrl,
        AccessKey = _admin!.AccessKey,
        SecretKey = _admin!.SecretKey,
        MaxRetries = 2,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
    };

    public SlipwayClient NewClient() => new(Options());

    /// <summary>The environment a child process needs to reach this server as the admin.</summary>
    public IReadOnlyDictionary<string, string> Environment() => new Dictionary<string, string>
    {
        ["CLEARML_API_HOST"] = Server.ApiUrl.ToString().TrimEnd('/'),
        ["CLEARML_WEB_HOST"] = Server.WebUrl.ToString().TrimEnd('/'),
        ["CLEARML_FILES_HOST"] = Server.FilesUrl.ToString().TrimEnd('/'),
        ["CLEARML_API_ACCESS_KEY"] = _admin!.AccessKey,
        ["CLEARML_API_SECRET_KEY"] = _admin!.SecretKey,
    };

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            try
            {
                await _server.DisposeAsync();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
