using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Server.Storage.Postgres;
using Slipway.Server.Storage.Sqlite;

namespace Slipway.Server.Storage;

/// <summary>The stores of one database, opened and migrated.</summary>
public sealed partial class Stores(SqlDatabase db, IDocumentStore docs, IQueueEntryStore queueEntries, IEventStore events) : IAsyncDisposable
{
    public SqlDatabase Database => db;
    public IDocumentStore Docs => docs;
    public IQueueEntryStore QueueEntries => queueEntries;
    public IEventStore Events => events;

    /// <summary>Opens PostgreSQL when given a connection string, else SQLite at <paramref name="sqlitePath"/>; the schema is brought up to date.</summary>
    public static Task<Stores> OpenAsync(string? postgres, string sqlitePath, CancellationToken ct) =>
        OpenAsync(postgres, sqlitePath, NullLoggerFactory.Instance, ct);

    /// <inheritdoc cref="OpenAsync(string?, string, CancellationToken)"/>
    public static async Task<Stores> OpenAsync(string? postgres, string sqlitePath, ILoggerFactory loggers, CancellationToken ct)
    {
        SqlDatabase db = string.IsNullOrEmpty(postgres) ? new SqliteDatabase(sqlitePath) : new PostgresDatabase(postgres);
        var logger = loggers.CreateLogger<Stores>();
        try
        {
            var upgrade = await db.MigrateAsync(ct);
            if (upgrade.From == 0)
                Log.Created(logger, db.Engine, upgrade.To);
            else if (upgrade.From < upgrade.To)
                Log.Upgraded(logger, db.Engine, upgrade.From, upgrade.To);
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
        var (popSql, eventSql) = db is PostgresDatabase ? (PostgresDatabase.PopSql, PostgresDatabase.EventSql) : (SqliteDatabase.PopSql, SqliteDatabase.EventSql);
        var events = new SqlEventStore(db, eventSql);
        await events.MoveLegacyPointsAsync(ct);
        return new Stores(db, new SqlDocumentStore(db, loggers.CreateLogger<SqlDocumentStore>()), new SqlQueueEntryStore(db, popSql), events);
    }

    public ValueTask DisposeAsync() => db.DisposeAsync();

    private static partial class Log
    {
        // Debug: every first start makes one, and a start that then fails prints only its one-line cause.
        [LoggerMessage(Level = LogLevel.Debug, Message = "Created a new {Engine} database (schema version {Version})")]
        public static partial void Created(ILogger logger, string engine, long version);

        [LoggerMessage(Level = LogLevel.Information, Message = "Upgraded the {Engine} database's schema from version {From} to {To}")]
        public static partial void Upgraded(ILogger logger, string engine, long from, long to);
    }
}
