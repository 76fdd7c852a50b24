using System.Data.Common;

namespace Slipway.Server.Storage;

/// <summary>
/// Upgrades a schema in place: each engine lists its steps in order, and a database records how many it has
/// applied, so an old data directory always opens and only the missing steps run.
/// </summary>
public static class SchemaMigrations
{
    /// <summary>Applies the missing steps; returns the schema version the database had and the one it has now.</summary>
    public static async Task<SchemaUpgrade> ApplyAsync(DbConnection conn, IReadOnlyList<string> steps, CancellationToken ct)
    {
        await Execute(conn, null, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long applied;
        await using (var read = conn.CreateCommand())
        {
            read.Transaction = tx;
            read.CommandText = "SELECT coalesce(max(version), 0) FROM schema_version";
            applied = Convert.ToInt64(await read.ExecuteScalarAsync(ct));
        }
        if (applied > steps.Count)
            throw new InvalidOperationException($"The database schema (version {applied}) is newer than this Slipway (version {steps.Count}); upgrade Slipway.");
        for (var i = (int)applied; i < steps.Count; i++)
            await Execute(conn, tx, steps[i], ct);
        if (applied < steps.Count)
        {
            await Execute(conn, tx, "DELETE FROM schema_version", ct);
            await Execute(conn, tx, $"INSERT INTO schema_version (version) VALUES ({steps.Count})", ct);
        }
        await tx.CommitAsync(ct);
        return new SchemaUpgrade(applied, steps.Count);
    }

    private static async Task Execute(DbConnection conn, DbTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>A database's schema version before and after it was opened (0 before: a new database).</summary>
public readonly record struct SchemaUpgrade(long From, long To);
