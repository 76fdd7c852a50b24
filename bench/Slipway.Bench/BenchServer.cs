using Slipway.Server;

namespace Slipway.Bench;

/// <summary>An in-process Slipway server on loopback with a fresh data directory (and, for PostgreSQL, a fresh database).</summary>
public sealed class BenchServer : IAsyncDisposable
{
    private readonly string _dataDir;
    private readonly Func<ValueTask>? _dropDatabase;

    private BenchServer(SlipwayServer server, string dataDir, Engine engine, Func<ValueTask>? dropDatabase)
    {
        Server = server;
        _dataDir = dataDir;
        Engine = engine;
        _dropDatabase = dropDatabase;
    }

    public SlipwayServer Server { get; }
    public Engine Engine { get; }
    public Uri ApiUrl => Server.ApiUrl;

    /// <param name="checkPermissions">Off only to measure what the permission checks cost.</param>
    public static async Task<BenchServer> StartAsync(Engine engine, PostgresProvider postgres, bool checkPermissions = true)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "slipway-bench-" + Guid.NewGuid().ToString("N")[..12]);
        string db = "";
        Func<ValueTask>? drop = null;
        if (engine == Engine.Postgres)
            (db, drop) = await postgres.CreateDatabaseAsync();
        var options = new ServerOptions
        {
            DataDir = dataDir,
            Host = "127.0.0.1",
            ApiPort = 0,
            WebPort = 0,
            FilesPort = 0,
            Db = db,
            CheckPermissions = checkPermissions,
        };
        // No log providers: request logging would otherwise be part of every figure.
        var server = await SlipwayServer.StartAsync(options, logging: _ => { });
        return new BenchServer(server, dataDir, engine, drop);
    }

    private AdminCredentials Admin => Server.NewAdmin ?? throw new InvalidOperationException("a fresh server has a new admin key pair");

    public Task<ApiClient> LoginAsync(int maxConnections = 8) => ApiClient.LoginAsync(ApiUrl, Admin.AccessKey, Admin.SecretKey, maxConnections);

    /// <summary>What a <see cref="Slipway.Client.SlipwayClient"/> (or an inference host) signed in as the new admin is given.</summary>
    public Slipway.Client.ClientOptions AdminClientOptions() => new()
    {
        ApiServer = Server.ApiUrl, WebServer = Server.WebUrl, FilesServer = Server.FilesUrl, AccessKey = Admin.AccessKey, SecretKey = Admin.SecretKey,
    };

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        await Server.DisposeAsync();
        if (_dropDatabase is not null)
            await _dropDatabase();
        TryDelete(_dataDir);
    }

    public static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

public enum Engine
{
    Sqlite,
    Postgres,
}
