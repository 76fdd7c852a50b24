using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Server.Storage;
using Xunit;

namespace Slipway.TestSupport;

/// <summary>
/// A store of a test's own on one engine ("sqlite" or "postgres"): a SQLite file in a fresh folder or a fresh database on
/// the test cluster, removed with everything in it when the test ends. <see cref="OpenAsync"/> opens it (again).
/// </summary>
public sealed class StoreFixture(string engine = "sqlite") : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slipway-store-").FullName;

    /// <summary>The PostgreSQL database's connection string; null on SQLite.</summary>
    public string? Database { get; private set; }

    /// <summary>The SQLite file (unused on PostgreSQL).</summary>
    public string SqlitePath => Path.Combine(_dir, "store.db");

    /// <summary>The stores opened by <see cref="InitializeAsync"/>; reopening replaces them.</summary>
    public Stores Stores { get; private set; } = null!;

    public IDocumentStore Docs => Stores.Docs;

    public async Task InitializeAsync()
    {
        if (engine == "postgres")
            Database = PostgresCluster.CreateDatabase();
        Stores = await OpenAsync();
    }

    /// <summary>Opens the same database once more (the caller disposes what it gets).</summary>
    public Task<Stores> OpenAsync(ILoggerFactory? loggers = null) =>
        Stores.OpenAsync(Database, SqlitePath, loggers ?? NullLoggerFactory.Instance, CancellationToken.None);

    /// <summary>Closes the current stores and opens them again, as a restart does.</summary>
    public async Task ReopenAsync()
    {
        await Stores.DisposeAsync();
        Stores = await OpenAsync();
    }

    public async Task DisposeAsync()
    {
        await Stores.DisposeAsync();
        if (Database is not null)
            PostgresCluster.DropDatabase(Database);
        Directory.Delete(_dir, true);
    }
}
