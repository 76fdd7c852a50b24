using Slipway.Client;
using Slipway.Server;
using Xunit;

namespace Slipway.TestSupport;

/// <summary>
/// A real Slipway server on loopback with its own data folder (and, on PostgreSQL, its own database), the admin's keys
/// and clients for them. It can be stopped and started again on the same ports and data; disposing removes its data.
/// Usable as <c>await using var server = await TestServer.StartAsync()</c> or as an xunit fixture.
/// </summary>
public class TestServer : IAsyncLifetime, IAsyncDisposable
{
    private readonly TestServerSettings _settings;
    private SlipwayServer? _server;
    private AdminCredentials? _admin;

    public TestServer(TestServerSettings? settings = null)
    {
        _settings = settings ?? new TestServerSettings();
        DataDir = _settings.DataDir ?? Path.Combine(Path.GetTempPath(), "slipway-test-" + Guid.NewGuid().ToString("N")[..12]);
        Database = _settings.Database;
    }

    public string DataDir { get; }

    /// <summary>What the server logged (Slipway's categories, Information and above), across its starts.</summary>
    public LogRecorder Logs { get; } = new();

    /// <summary>The PostgreSQL connection string the server uses; null on SQLite.</summary>
    public string? Database { get; private set; }

    public SlipwayServer Server => _server ?? throw new InvalidOperationException("not started");

    /// <summary>The admin's keys, written at the first start (a restart on the same data makes none).</summary>
    public AdminCredentials Admin => _admin ?? throw new InvalidOperationException("no admin keys");

    public static async Task<TestServer> StartAsync(TestServerSettings? settings = null)
    {
        var server = new TestServer(settings);
        await server.InitializeAsync();
        return server;
    }

    public Task InitializeAsync()
    {
        if (_settings.Engine == "postgres")
            Database ??= PostgresCluster.CreateDatabase();
        return StartOnAsync(0, 0, null);
    }

    private async Task StartOnAsync(int api, int web, int? files)
    {
        var options = new ServerOptions { DataDir = DataDir, Host = "127.0.0.1", ApiPort = api, WebPort = web, FilesPort = 0, Db = Database ?? "" };
        _settings.Configure?.Invoke(options);
        if (files is { } port)
            options.FilesPort = port;
        _server = await SlipwayServer.StartAsync(options, Logs.AddTo, _settings.Clock);
        _admin ??= _server.NewAdmin;
    }

    /// <summary>Stops the server (in-flight requests are cut) but keeps its data.</summary>
    public async Task StopAsync() => await Server.DisposeAsync();

    /// <summary>Starts the stopped server again on the same ports and data.</summary>
    public Task StartAgainAsync() => StartOnAsync(Server.ApiUrl.Port, Server.WebUrl.Port, Server.FilesUrl.Port);

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

    /// <summary>Writes a clearml.conf for this server's admin at <paramref name="path"/> (for a command's --conf) and returns the path.</summary>
    public string WriteClientConf(string path)
    {
        var o = Options();
        File.WriteAllText(path, $"api {{\n api_server: {o.ApiServer}\n web_server: {o.WebServer}\n files_server: {o.FilesServer}\n credentials {{ access_key: \"{o.AccessKey}\", secret_key: \"{o.SecretKey}\" }}\n}}\n");
        return path;
    }

    /// <summary>The environment a child process needs to reach this server as the admin.</summary>
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
        {
            try
            {
                await _server.DisposeAsync();
            }
            catch (ObjectDisposedException)
            {
                // Stopped already by the test (StopAsync).
            }
        }
        if (Database is not null)
            PostgresCluster.DropDatabase(Database);
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
        GC.SuppressFinalize(this);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}
