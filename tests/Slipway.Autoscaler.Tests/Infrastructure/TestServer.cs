using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Server;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>A real Slipway server on loopback with its own data directory, and the admin's keys.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private SlipwayServer? _server;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "slipway-autoscaler-test-" + Guid.NewGuid().ToString("N")[..12]);

    public SlipwayServer Server => _server ?? throw new InvalidOperationException("not started");

    private AdminCredentials Admin => Server.NewAdmin ?? throw new InvalidOperationException("no admin keys");

    public static async Task<TestServer> StartAsync()
    {
        var server = new TestServer();
        server._server = await SlipwayServer.StartAsync(
            new ServerOptions { DataDir = server.DataDir, Host = "127.0.0.1", ApiPort = 0, WebPort = 0, FilesPort = 0 }, logging => logging.AddFilter(_ => false));
        return server;
    }

    public ClientOptions Options() => new()
    {
        ApiServer = Server.ApiUrl,
        WebServer = Server.WebUrl,
        FilesServer = Server.FilesUrl,
        AccessKey = Admin.AccessKey,
        SecretKey = Admin.SecretKey,
        MaxRetries = 2,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
    };

    public SlipwayClient NewClient() => new(Options());

    /// <summary>The environment an agent process needs to reach this server as the admin.</summary>
    public IReadOnlyDictionary<string, string> Environment() => new Dictionary<string, string>
    {
        ["CLEARML_API_HOST"] = Server.ApiUrl.ToString().TrimEnd('/'),
        ["CLEARML_WEB_HOST"] = Server.WebUrl.ToString().TrimEnd('/'),
        ["CLEARML_FILES_HOST"] = Server.FilesUrl.ToString().TrimEnd('/'),
        ["CLEARML_API_ACCESS_KEY"] = Admin.AccessKey,
        ["CLEARML_API_SECRET_KEY"] = Admin.SecretKey,
    };

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
