using Microsoft.Extensions.Logging;
using Slipway.Server;

namespace Slipway.Client.Tests.Infrastructure;

/// <summary>A real Slipway server on loopback (SQLite, local files) with its own data directory, and clients for its admin.</summary>
public sealed class TestServer : IAsyncLifetime
{
    private SlipwayServer? _server;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "slipway-client-test-" + Guid.NewGuid().ToString("N")[..12]);

    public SlipwayServer Server => _server ?? throw new InvalidOperationException("not started");

    /// <summary>The clearml.conf the server wrote for its admin.</summary>
    public string ConfigFile => Path.Combine(DataDir, "clearml.conf");

    public async Task InitializeAsync() =>
        _server = await SlipwayServer.StartAsync(new ServerOptions { DataDir = DataDir, Host = "127.0.0.1", ApiPort = 0, WebPort = 0, FilesPort = 0, FilesPath = "/files" },
            logging => logging.AddFilter(_ => false));

    /// <summary>The same file server, also reachable under /files of the API port (a second file-server base URL).</summary>
    public Uri FilesOnApiUrl => new(Server.ApiUrl.ToString().TrimEnd('/') + "/files");

    public ClientOptions Options() => new()
    {
        ApiServer = Server.ApiUrl,
        WebServer = Server.WebUrl,
        FilesServer = Server.FilesUrl,
        AccessKey = Server.NewAdmin!.AccessKey,
        SecretKey = Server.NewAdmin!.SecretKey,
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
        ["CLEARML_API_ACCESS_KEY"] = Server.NewAdmin!.AccessKey,
        ["CLEARML_API_SECRET_KEY"] = Server.NewAdmin!.SecretKey,
    };

    public async Task DisposeAsync()
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
