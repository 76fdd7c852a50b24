using Slipway.Server.Storage.Postgres;
using Slipway.Server.Storage.Sqlite;

namespace Slipway.Server.Storage;

/// <summary>The stores of one database, opened and migrated.</summary>
public sealed class Stores(SqlDatabase db, IDocumentStore docs, IQueueEntryStore queueEntries, IEventStore events) : IAsyncDisposable
{
    public SqlDatabase Database => db;
    public IDocumentStore Docs => docs;
    public IQueueEntryStore QueueEntries => queueEntries;
    public IEventStore Events => events;

    /// <summary>Opens PostgreSQL when given a connection string, else SQLite at <paramref name="sqlitePath"/>; the schema is brought up to date.</summary>
    public static async Task<Stores> OpenAsync(string? postgres, string sqlitePath, CancellationToken ct)
    {
        SqlDatabase db = string.IsNullOrEmpty(postgres) ? new SqliteDatabase(sqlitePath) : new PostgresDatabase(postgres);
        try
        {
            await db.MigrateAsync(ct);
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
        var (popSql, eventSql) = db is PostgresDatabase ? (PostgresDatabase.PopSql, PostgresDatabase.EventSql) : (SqliteDatabase.PopSql, SqliteDatabase.EventSql);
        var events = new SqlEventStore(db, eventSql);
        await events.MoveLegacyPointsAsync(ct);
        return new Stores(db, new SqlDocumentStore(db), new SqlQueueEntryStore(db, popSql), events);
    }

    public ValueTask DisposeAsync() => db.DisposeAsync();
}
