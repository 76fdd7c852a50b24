using System.Data.Common;
using Npgsql;

namespace Slipway.Server.Storage.Postgres;

/// <summary>
/// The shared engine for several replicas: pooled connections, one transaction per write, and a queue pop
/// that skips rows other transactions hold, so concurrent workers never get the same entry.
/// </summary>
public sealed class PostgresDatabase(string connectionString) : SqlDatabase
{
    public const string PopSql = """
        DELETE FROM queue_entries WHERE pos = (
            SELECT pos FROM queue_entries WHERE queue = @queue ORDER BY pos LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING task, added
        """;

    public static readonly EventSql EventSql = new("LEAST(coalesce(min_iter, @min), @min)", "GREATEST(coalesce(max_iter, @max), @max)",
        "jsonb_array_elements(CAST(@rows AS jsonb)) AS j", (column, type) => $"(j ->> {column})::{type}",
        LockSeries: "SELECT pg_advisory_xact_lock(4242002, CAST(@series % 2147483647 AS integer))");

    private readonly NpgsqlDataSource _source = NpgsqlDataSource.Create(connectionString);

    public override SqlDialect Dialect { get; } = new PostgresDialect();

    public override string Engine => "postgres";

    public override async ValueTask<DbConnection> OpenReadAsync(CancellationToken ct) => await _source.OpenConnectionAsync(ct);

    public override async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct)
    {
        await using var conn = await _source.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var result = await work(conn, tx);
        await tx.CommitAsync(CancellationToken.None);
        return result;
    }

    public override async Task<SchemaUpgrade> MigrateAsync(CancellationToken ct)
    {
        await using var conn = await _source.OpenConnectionAsync(ct);
        // One replica migrates at a time.
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_lock(4242001)", conn))
            await lockCmd.ExecuteNonQueryAsync(ct);
        try
        {
            return await SchemaMigrations.ApplyAsync(conn, PostgresSchema.Steps, ct);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(4242001)", conn);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    // Outside a transaction, so that CREATE INDEX CONCURRENTLY can run and writes to the table go on. The session lock
    // makes one replica at a time build the table's indexes, so the count it read from the catalog stays true while it
    // builds, and an index that is not valid is one that no one is building still (a failed build's leftover).
    public override async Task<bool> BuildIndexesAsync(string table, Func<DbConnection, DbTransaction?, Task> work, CancellationToken ct)
    {
        await using var conn = await _source.OpenConnectionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(4242003, hashtext(@table))", conn))
        {
            lockCmd.Parameters.AddWithValue("table", table);
            if (await lockCmd.ExecuteScalarAsync(ct) is not true)
                return false;
        }
        try
        {
            await work(conn, null);
            return true;
        }
        finally
        {
            // Explicitly: a pooled connection is reset only when it is next used, and the lock would outlive this build.
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(4242003, hashtext(@table))", conn);
            unlock.Parameters.AddWithValue("table", table);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    public override bool IsUniqueViolation(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    // 2201B: invalid regular expression; 22P02/22023: malformed input to an operator.
    public override bool IsBadQueryInput(Exception e) => e is PostgresException { SqlState: "2201B" or "22P02" or "22023" or "2201X" or "2201W" };

    // 57014 query_canceled: the server stopped it; a TimeoutException inside: the driver's wait ran out first.
    public override bool IsTimeout(Exception e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } or NpgsqlException { InnerException: TimeoutException };

    public override ValueTask DisposeAsync() => _source.DisposeAsync();
}
