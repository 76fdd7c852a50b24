using System.Data.Common;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Slipway.Server.Storage.Sqlite;

/// <summary>
/// The embedded engine. SQLite has one writer, so all writes share one connection behind a lock (no busy
/// retries); reads use pooled connections in WAL mode and run beside it. synchronous=NORMAL in WAL mode
/// keeps every committed transaction across a process crash.
/// </summary>
public sealed class SqliteDatabase : SqlDatabase
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly RegexCache _regexes = new();
    private SqliteConnection? _writer;

    public SqliteDatabase(string path)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = true,
            Cache = SqliteCacheMode.Private,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>One writer: the head is read and deleted in one statement.</summary>
    public const string PopSql =
        "DELETE FROM queue_entries WHERE pos = (SELECT pos FROM queue_entries WHERE queue = @queue ORDER BY pos LIMIT 1) RETURNING task, added";

    public static readonly EventSql EventSql = new("min(coalesce(min_iter, @min), @min)", "max(coalesce(max_iter, @max), @max)",
        "json_each(@rows) AS j", (column, _) => $"j.value ->> {column}", LockSeries: null);

    public override SqlDialect Dialect { get; } = new SqliteDialect();

    public override string Engine => "sqlite";

    public override async ValueTask<DbConnection> OpenReadAsync(CancellationToken ct) => await OpenAsync(ct);

    public override async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct);
        try
        {
            _writer ??= await OpenAsync(ct);
            await using var tx = await _writer.BeginTransactionAsync(ct);
            var result = await work(_writer, tx);
            await tx.CommitAsync(CancellationToken.None);
            return result;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override async Task<SchemaUpgrade> MigrateAsync(CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        await using (var wal = conn.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            await wal.ExecuteNonQueryAsync(ct);
        }
        return await SchemaMigrations.ApplyAsync(conn, SqliteSchema.Steps, ct);
    }

    public override bool IsUniqueViolation(Exception e) =>
        e is SqliteException { SqliteErrorCode: 19 } s && s.Message.Contains("UNIQUE", StringComparison.Ordinal);

    // Patterns are checked before they reach a query; a match that runs too long fails the statement with this reason.
    public override bool IsBadQueryInput(Exception e) =>
        e is SqliteException s && s.Message.Contains(UserRegex.TimeoutReason, StringComparison.Ordinal);

    public override async ValueTask DisposeAsync()
    {
        if (_writer is not null)
            await _writer.DisposeAsync();
        _writeLock.Dispose();
    }

    private bool Matches(string? pattern, string? value)
    {
        if (pattern is null || value is null)
            return false;
        try
        {
            return _regexes.Get(pattern).IsMatch(value);
        }
        catch (RegexMatchTimeoutException)
        {
            // Ends the statement: counting the row as no match would let the next row time out again, and the next.
            throw new InvalidOperationException(UserRegex.TimeoutReason);
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var conn = new SqliteConnection(_connectionString);
        await conn.OpenAsync(ct);
        conn.CreateFunction("regexp", (string? pattern, string? value) => Matches(pattern, value), isDeterministic: true);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;";
        await cmd.ExecuteNonQueryAsync(ct);
        return conn;
    }
}
