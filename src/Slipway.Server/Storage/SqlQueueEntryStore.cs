using System.Collections.Concurrent;
using System.Data.Common;

namespace Slipway.Server.Storage;

/// <summary>
/// Queue entries in one table ordered by an engine-assigned position. The pop statement comes from the engine: one atomic
/// DELETE … RETURNING (SQLite has one writer; PostgreSQL adds FOR UPDATE SKIP LOCKED).
/// </summary>
public sealed class SqlQueueEntryStore(SqlDatabase db, string popSql) : IQueueEntryStore
{
    /// <summary>Entries added by other replicas are noticed by looking again at this interval.</summary>
    private static readonly TimeSpan Recheck = TimeSpan.FromMilliseconds(250);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _added = new();

    public async Task AddAsync(string queue, string task, string added, CancellationToken ct = default)
    {
        await db.WriteAsync(async (conn, tx) =>
        {
            await using var cmd = Command(conn, tx,
                "INSERT INTO queue_entries (queue, task, added) VALUES (@queue, @task, @added)",
                ("@queue", queue), ("@task", task), ("@added", added));
            return await cmd.ExecuteNonQueryAsync(ct);
        }, ct);
        if (_added.TryRemove(queue, out var waiters))
            waiters.TrySetResult();
    }

    public async Task<bool> WaitForEntryAsync(string queue, TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var signal = _added.GetOrAdd(queue, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            if (await CountAsync(queue, ct) > 0)
                return true;
            var wait = deadline - DateTime.UtcNow;
            await Task.WhenAny(signal, Task.Delay(wait < Recheck ? (wait > TimeSpan.Zero ? wait : TimeSpan.Zero) : Recheck, ct));
            ct.ThrowIfCancellationRequested();
            if (signal.IsCompleted)
                return true;
        }
        return false;
    }

    public Task<QueueEntry?> PopAsync(string queue, CancellationToken ct = default) =>
        db.WriteAsync(async (conn, tx) =>
        {
            await using var cmd = Command(conn, tx, popSql, ("@queue", queue));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            return await reader.ReadAsync(ct) ? new QueueEntry(reader.GetString(0), reader.GetString(1)) : null;
        }, ct);

    public Task<bool> RemoveAsync(string queue, string task, CancellationToken ct = default) =>
        db.WriteAsync(async (conn, tx) =>
        {
            await using var cmd = Command(conn, tx, "DELETE FROM queue_entries WHERE queue = @queue AND task = @task", ("@queue", queue), ("@task", task));
            return await cmd.ExecuteNonQueryAsync(ct) > 0;
        }, ct);

    public Task<List<string>> RemoveEverywhereAsync(string task, CancellationToken ct = default) =>
        db.WriteAsync(async (conn, tx) =>
        {
            await using var cmd = Command(conn, tx, "DELETE FROM queue_entries WHERE task = @task RETURNING queue", ("@task", task));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var queues = new List<string>();
            while (await reader.ReadAsync(ct))
                queues.Add(reader.GetString(0));
            return queues;
        }, ct);

    public async Task<List<QueueEntry>> ListAsync(string queue, CancellationToken ct = default) =>
        (await ListManyAsync([queue], ct)).GetValueOrDefault(queue) ?? [];

    public async Task<Dictionary<string, List<QueueEntry>>> ListManyAsync(IReadOnlyCollection<string> queues, CancellationToken ct = default)
    {
        var result = queues.ToDictionary(q => q, _ => new List<QueueEntry>());
        if (queues.Count == 0)
            return result;
        await using var conn = await db.OpenReadAsync(ct);
        var names = queues.Select((q, i) => ($"@q{i}", (object)q)).ToArray();
        await using var cmd = Command(conn, null,
            $"SELECT queue, task, added FROM queue_entries WHERE queue IN ({string.Join(", ", names.Select(n => n.Item1))}) ORDER BY queue, pos", names);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            result[reader.GetString(0)].Add(new QueueEntry(reader.GetString(1), reader.GetString(2)));
        return result;
    }

    public async Task<long> CountAsync(string queue, CancellationToken ct = default)
    {
        await using var conn = await db.OpenReadAsync(ct);
        await using var cmd = Command(conn, null, "SELECT count(*) FROM queue_entries WHERE queue = @queue", ("@queue", queue));
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct));
    }

    public Task ReorderAsync(string queue, IReadOnlyList<QueueEntry> entries, CancellationToken ct = default) =>
        db.WriteAsync(async (conn, tx) =>
        {
            await using (var clear = Command(conn, tx, "DELETE FROM queue_entries WHERE queue = @queue", ("@queue", queue)))
                await clear.ExecuteNonQueryAsync(ct);
            // Positions come from the engine's sequence, so inserting in order is the new order.
            foreach (var entry in entries)
            {
                await using var insert = Command(conn, tx, "INSERT INTO queue_entries (queue, task, added) VALUES (@queue, @task, @added)",
                    ("@queue", queue), ("@task", entry.Task), ("@added", entry.Added));
                await insert.ExecuteNonQueryAsync(ct);
            }
            return true;
        }, ct);

    public Task DeleteQueueAsync(string queue, CancellationToken ct = default) =>
        db.WriteAsync(async (conn, tx) =>
        {
            await using var cmd = Command(conn, tx, "DELETE FROM queue_entries WHERE queue = @queue", ("@queue", queue));
            return await cmd.ExecuteNonQueryAsync(ct);
        }, ct);

    private static DbCommand Command(DbConnection conn, DbTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
            SqlDocumentStore.AddParameter(cmd, name, value);
        return cmd;
    }
}
