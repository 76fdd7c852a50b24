using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Server.Core;

namespace Slipway.Server.Storage;

/// <summary>Documents as JSON in one table per collection (id, version, doc), on any <see cref="SqlDatabase"/>.</summary>
public sealed partial class SqlDocumentStore(SqlDatabase db, ILogger<SqlDocumentStore> logger) : IDocumentStore
{

    // Indexes made on first use for ORDER BY on a field that users pick (a metric or hyperparameter column of the
    // experiments table), for at most this many fields per table, counted in the database's catalog (so across restarts
    // and replicas): each costs one scan to build and a little per write.
    private const int MaxSortIndexes = 32;
    // The fields this process has seen to: their indexes are built, or the table had no room for them.
    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _sortIndexes = new(StringComparer.Ordinal);

    private SqlDialect Dialect => db.Dialect;

    public async Task<StoredDoc?> GetAsync(Collection collection, string id, CancellationToken ct = default)
    {
        await using var conn = await db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT id, version, doc FROM {SqlDatabase.Table(collection)} WHERE id = @id";
        AddParameter(cmd, "@id", id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    public async Task<List<StoredDoc>> FindAsync(Collection collection, DocQuery query, CancellationToken ct = default)
    {
        if (query.Take is not null)
            await EnsureSortIndexesAsync(SqlDatabase.Table(collection), query.OrderBy, ct);
        var parameters = new SqlParameters();
        var sql = $"SELECT id, version, doc FROM {SqlDatabase.Table(collection)}"
                  + DocQuerySql.Where(query, Dialect, parameters) + DocQuerySql.OrderAndPage(query, Dialect, parameters);
        return await Run(async conn =>
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            LimitPatternTime(cmd, query);
            parameters.ApplyTo(cmd);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var docs = new List<StoredDoc>();
            while (await reader.ReadAsync(ct))
                docs.Add(Read(reader));
            return docs;
        }, query, ct);
    }

    public Task<long> CountAsync(Collection collection, DocQuery query, CancellationToken ct = default) =>
        CountAsync($"SELECT count(*) FROM {SqlDatabase.Table(collection)}", query, "", ct);

    public Task<long> CountUpToAsync(Collection collection, DocQuery query, long limit, CancellationToken ct = default) =>
        CountAsync($"SELECT count(*) FROM (SELECT 1 FROM {SqlDatabase.Table(collection)}", query, $" LIMIT {Math.Max(0, limit)}) AS matches", ct);

    private async Task<long> CountAsync(string select, DocQuery query, string tail, CancellationToken ct)
    {
        var parameters = new SqlParameters();
        var sql = select + DocQuerySql.Where(query, Dialect, parameters) + tail;
        return await Run(async conn =>
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            LimitPatternTime(cmd, query);
            parameters.ApplyTo(cmd);
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct));
        }, query, ct);
    }

    public async Task<List<GroupCount>> CountByAsync(Collection collection, DocQuery query, string field1, string? field2, CancellationToken ct = default)
    {
        var parameters = new SqlParameters();
        var key1 = Dialect.Text(Dialect.Path(field1, parameters));
        var key2 = field2 is null ? "NULL" : Dialect.Text(Dialect.Path(field2, parameters));
        var sql = $"SELECT {key1}, {key2}, count(*) FROM {SqlDatabase.Table(collection)}"
                  + DocQuerySql.Where(query, Dialect, parameters) + " GROUP BY 1, 2";
        return await Run(async conn =>
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            LimitPatternTime(cmd, query);
            parameters.ApplyTo(cmd);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var counts = new List<GroupCount>();
            while (await reader.ReadAsync(ct))
            {
                counts.Add(new GroupCount(reader.IsDBNull(0) ? null : reader.GetString(0),
                    reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2)));
            }
            return counts;
        }, query, ct);
    }

    public async Task<bool> InsertAsync(Collection collection, string id, JsonObject body, CancellationToken ct = default)
    {
        var json = body.ToJsonString();
        try
        {
            return await db.WriteAsync(async (conn, tx) =>
            {
                await using var cmd = conn.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = $"INSERT INTO {SqlDatabase.Table(collection)} (id, version, doc) VALUES (@id, 1, {DocParameter})";
                AddParameter(cmd, "@id", id);
                AddParameter(cmd, "@doc", json);
                await cmd.ExecuteNonQueryAsync(ct);
                return true;
            }, ct);
        }
        catch (Exception e) when (db.IsUniqueViolation(e))
        {
            return false;
        }
    }

    public async Task<bool> ReplaceAsync(Collection collection, StoredDoc current, JsonObject body, CancellationToken ct = default)
    {
        var json = body.ToJsonString();
        try
        {
            return await db.WriteAsync(async (conn, tx) =>
            {
                await using var cmd = conn.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = $"UPDATE {SqlDatabase.Table(collection)} SET version = version + 1, doc = {DocParameter} WHERE id = @id AND version = @version";
                AddParameter(cmd, "@id", current.Id);
                AddParameter(cmd, "@version", current.Version);
                AddParameter(cmd, "@doc", json);
                return await cmd.ExecuteNonQueryAsync(ct) == 1;
            }, ct);
        }
        catch (Exception e) when (db.IsUniqueViolation(e))
        {
            throw ApiException.NotUnique("name");
        }
    }

    public Task<bool> DeleteAsync(Collection collection, string id, CancellationToken ct = default) =>
        db.WriteAsync(async (conn, tx) =>
        {
            await using var cmd = conn.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = $"DELETE FROM {SqlDatabase.Table(collection)} WHERE id = @id";
            AddParameter(cmd, "@id", id);
            return await cmd.ExecuteNonQueryAsync(ct) == 1;
        }, ct);

    private string DocParameter => Dialect.JsonParameter("@doc");

    private async Task EnsureSortIndexesAsync(string table, List<SortKey> order, CancellationToken ct)
    {
        foreach (var key in order)
        {
            if (!key.Path.StartsWith("last_metrics.", StringComparison.Ordinal) && !key.Path.StartsWith("hyperparams.", StringComparison.Ordinal))
                continue;
            var name = $"{SortIndexPrefix(table)}{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.Path)))[..16]}";
            if (Dialect.SortIndex(table, name, Dialect.Path(key.Path, new SqlParameters())) is not { } indexes)
                continue;
            var build = _sortIndexes.GetOrAdd(name, _ => new Lazy<Task<bool>>(() => BuildSortIndexAsync(table, key.Path, name, indexes)));
            try
            {
                if (!await build.Value.WaitAsync(ct))
                    _sortIndexes.TryRemove(new(name, build));
            }
            catch (DbException e)
            {
                // The order is right without the index, only slower; a later query tries again. Only the first of the
                // queries that waited on this build forgets it (and logs), never a newer build another query started.
                if (_sortIndexes.TryRemove(new(name, build)))
                    Log.SortIndexFailed(logger, table, key.Path, e.Message);
            }
        }
    }

    private static string SortIndexPrefix(string table) => table + "_sort_";

    /// <summary>Builds the field's indexes unless the catalog has them or the table has its fill; false when another process holds the turn.</summary>
    private Task<bool> BuildSortIndexAsync(string table, string field, string name, IReadOnlyList<IndexDdl> indexes) =>
        db.BuildIndexesAsync(table, async (conn, tx) =>
        {
            var prefix = SortIndexPrefix(table);
            var listed = new Dictionary<string, bool>(StringComparer.Ordinal);
            await using (var cmd = conn.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = Dialect.IndexCatalog("@table", "@prefix");
                AddParameter(cmd, "@table", table);
                AddParameter(cmd, "@prefix", prefix);
                await using var reader = await cmd.ExecuteReaderAsync(CancellationToken.None);
                while (await reader.ReadAsync(CancellationToken.None))
                    listed[reader.GetString(0)] = Convert.ToBoolean(reader.GetValue(1), CultureInfo.InvariantCulture);
            }
            // A field's indexes share its name (name, name_project); one that is listed, usable or not, takes its room.
            var fields = listed.Keys.Select(n => n[..Math.Min(n.Length, name.Length)]).ToHashSet(StringComparer.Ordinal);
            if (!fields.Contains(name) && fields.Count >= MaxSortIndexes)
            {
                Log.SortIndexCapReached(logger, table, field, MaxSortIndexes);
                return;
            }
            var clock = Stopwatch.StartNew();
            var built = 0;
            foreach (var index in indexes)
            {
                if (listed.TryGetValue(index.Name, out var valid) && valid)
                    continue;
                if (listed.ContainsKey(index.Name))
                {
                    Log.InvalidIndexDropped(logger, index.Name, table);
                    await ExecuteAsync(conn, tx, Dialect.DropIndex(index.Name));
                }
                await ExecuteAsync(conn, tx, index.Sql);
                built++;
            }
            if (built > 0)
                Log.SortIndexBuilt(logger, table, field, clock.Elapsed.TotalMilliseconds);
        }, CancellationToken.None);

    private static async Task ExecuteAsync(DbConnection conn, DbTransaction? tx, string sql)
    {
        await using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private async Task<T> Run<T>(Func<DbConnection, Task<T>> read, DocQuery query, CancellationToken ct)
    {
        try
        {
            await using var conn = await db.OpenReadAsync(ct);
            return await read(conn);
        }
        catch (Exception e) when (db.IsBadQueryInput(e))
        {
            // The engine's message wraps the timeout's reason ("SQLite Error 1: '…'"); the caller needs only the reason.
            throw new InvalidQueryException(e.Message.Contains(UserRegex.TimeoutReason, StringComparison.Ordinal) ? UserRegex.TimeoutReason : e.Message, e);
        }
        catch (Exception e) when (HasPattern(query) && db.IsTimeout(e) && !ct.IsCancellationRequested)
        {
            throw new InvalidQueryException(UserRegex.TimeoutReason, e);
        }
    }

    // A caller's regular expression runs inside the engine, beyond the reach of .NET's match timeout. PostgreSQL's
    // engine does not backtrack for most patterns, but some (backreferences, nested counted repetitions) can still
    // cost it seconds per row; it checks for cancellation while matching, so the statement gets a deadline
    // (the driver cancels it on the server when it passes), and the caller gets a 400 rather than a busy database.
    // SQLite's regexp function carries the .NET timeout itself, and its command timeout only bounds lock waits.
    private const int PatternQuerySeconds = 5;

    private static bool HasPattern(DocQuery query) => query.Filters.Any(f => f is FieldMatches);

    private static void LimitPatternTime(DbCommand cmd, DocQuery query)
    {
        if (HasPattern(query))
            cmd.CommandTimeout = PatternQuerySeconds;
    }

    private static StoredDoc Read(DbDataReader reader) =>
        new(reader.GetString(0), reader.GetInt64(1), (JsonObject)JsonNode.Parse(reader.GetString(2))!);

    internal static void AddParameter(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        cmd.Parameters.Add(p);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Built a sort index on {Table} for {Field} in {Milliseconds:0} ms")]
        public static partial void SortIndexBuilt(ILogger logger, string table, string field, double milliseconds);

        [LoggerMessage(Level = LogLevel.Warning, Message = "No sort index on {Table} for {Field}: the table has its {Max}; sorting by it scans the table")]
        public static partial void SortIndexCapReached(ILogger logger, string table, string field, int max);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Dropping {Index} on {Table}, left invalid by an earlier build, to build it again")]
        public static partial void InvalidIndexDropped(ILogger logger, string index, string table);

        [LoggerMessage(Level = LogLevel.Warning, Message = "A sort index on {Table} for {Field} could not be built (a later query tries again): {Reason}")]
        public static partial void SortIndexFailed(ILogger logger, string table, string field, string reason);
    }
}
