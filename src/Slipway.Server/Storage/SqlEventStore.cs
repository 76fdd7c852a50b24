using System.Collections.Concurrent;
using System.Data.Common;
using System.Text;
using Slipway.Server.Domain;

namespace Slipway.Server.Storage;

/// <summary>The statements that differ between engines for the event store.</summary>
/// <param name="DocParameter">How a JSON document parameter is written; {0} is the parameter's name.</param>
public sealed record EventSql(string MinIter, string MaxIter, string DocParameter);

/// <summary>
/// Events on any <see cref="SqlDatabase"/>. Scalars go to per-series rows keyed by (series, iteration), so a
/// re-sent point overwrites, plus the downsampling pyramid; other events are documents keyed by their id.
/// Rows are written with multi-row statements, and everything that can be computed before the write
/// transaction (grouping, de-duplication, pyramid deltas) is, since SQLite runs one writer at a time.
/// </summary>
public sealed class SqlEventStore(SqlDatabase db, EventSql sql) : IEventStore
{
    private const int RowsPerStatement = 250;
    private readonly ConcurrentDictionary<(string Task, string Metric, string Variant), long> _seriesIds = new();

    private sealed record SeriesBatch((string Task, string Metric, string Variant) Key, List<ScalarPoint> Points, long MinIter, long MaxIter,
        List<(int Level, ScalarBucket Bucket)> Buckets);

    public async Task AddAsync(IReadOnlyList<ScalarEvent> scalars, IReadOnlyList<StoredEvent> others, CancellationToken ct = default)
    {
        if (scalars.Count == 0 && others.Count == 0)
            return;
        var batches = scalars.GroupBy(s => (s.Task, s.Metric, s.Variant)).Select(g =>
        {
            var points = g.GroupBy(s => s.Point.Iter).Select(i => i.Last().Point).ToList();
            return new SeriesBatch(g.Key, points, points.Min(p => p.Iter), points.Max(p => p.Iter), ScalarPyramid.Aggregate(points).ToList());
        }).ToList();
        // Series created in this transaction are cached only once it commits.
        var created = new Dictionary<(string, string, string), long>();
        await db.WriteAsync(async (conn, tx) =>
        {
            created.Clear();
            var statements = new Statements(conn, tx);
            await using var countRange = Command(conn, tx, "SELECT count(*) FROM scalars WHERE series = @series AND iter BETWEEN @min AND @max", "@series", "@min", "@max");
            await using var updateSeries = Command(conn, tx,
                $"UPDATE scalar_series SET count = count + @count, min_iter = {sql.MinIter}, max_iter = {sql.MaxIter} WHERE id = @series",
                "@count", "@min", "@max", "@series");
            try
            {
                foreach (var batch in batches)
                {
                    var series = await SeriesIdAsync(conn, tx, batch.Key, created, ct);
                    // Re-sent points overwrite, so the series grows by the rows that are new in the batch's range.
                    var before = await Scalar(countRange, ct, series, batch.MinIter, batch.MaxIter);
                    await statements.RunAsync(PointsSql, 4, batch.Points, (values, p) =>
                    {
                        values.Add(series);
                        values.Add(p.Iter);
                        values.Add((object?)p.Value ?? DBNull.Value);
                        values.Add(p.Timestamp);
                    }, ct);
                    var added = await Scalar(countRange, ct, series, batch.MinIter, batch.MaxIter) - before;
                    await statements.RunAsync(BucketsSql, 10, batch.Buckets, (values, b) =>
                    {
                        values.Add(series);
                        values.Add((long)b.Level);
                        values.Add(b.Bucket.Bucket);
                        values.Add(b.Bucket.Count);
                        values.Add(b.Bucket.Min.Value!);
                        values.Add(b.Bucket.Min.Iter);
                        values.Add(b.Bucket.Min.Timestamp);
                        values.Add(b.Bucket.Max.Value!);
                        values.Add(b.Bucket.Max.Iter);
                        values.Add(b.Bucket.Max.Timestamp);
                    }, ct);
                    await Run(updateSeries, ct, added, batch.MinIter, batch.MaxIter, series);
                }
                await statements.RunAsync(EventsSql, 8, others, (values, e) =>
                {
                    values.Add(e.Task);
                    values.Add(e.Type);
                    values.Add((object?)e.EventId ?? DBNull.Value);
                    values.Add(e.Iter);
                    values.Add(e.Metric);
                    values.Add(e.Variant);
                    values.Add(e.Timestamp);
                    values.Add(e.Doc);
                }, ct, sql.DocParameter);
            }
            finally
            {
                await statements.DisposeAsync();
            }
            return true;
        }, ct);
        foreach (var (key, id) in created)
            _seriesIds[key] = id;
    }

    private static string PointsSql(string values) =>
        $"INSERT INTO scalars (series, iter, value, ts) VALUES {values} ON CONFLICT (series, iter) DO UPDATE SET value = excluded.value, ts = excluded.ts";

    private static string BucketsSql(string values) => $"""
        INSERT INTO scalar_buckets AS b (series, level, bucket, count, min_value, min_iter, min_ts, max_value, max_iter, max_ts)
        VALUES {values}
        ON CONFLICT (series, level, bucket) DO UPDATE SET
            count = b.count + excluded.count,
            min_iter = CASE WHEN excluded.min_value < b.min_value THEN excluded.min_iter ELSE b.min_iter END,
            min_ts = CASE WHEN excluded.min_value < b.min_value THEN excluded.min_ts ELSE b.min_ts END,
            min_value = CASE WHEN excluded.min_value < b.min_value THEN excluded.min_value ELSE b.min_value END,
            max_iter = CASE WHEN excluded.max_value > b.max_value THEN excluded.max_iter ELSE b.max_iter END,
            max_ts = CASE WHEN excluded.max_value > b.max_value THEN excluded.max_ts ELSE b.max_ts END,
            max_value = CASE WHEN excluded.max_value > b.max_value THEN excluded.max_value ELSE b.max_value END
        """;

    private string EventsSql(string values) => $"""
        INSERT INTO events (task, type, event_id, iter, metric, variant, ts, doc) VALUES {values}
        ON CONFLICT (task, event_id) WHERE event_id IS NOT NULL
        DO UPDATE SET iter = excluded.iter, ts = excluded.ts, doc = excluded.doc
        """;

    /// <summary>
    /// Multi-row statements, prepared once per shape within a transaction: a full chunk of
    /// <see cref="RowsPerStatement"/> rows and a shorter last one.
    /// </summary>
    private sealed class Statements(DbConnection conn, DbTransaction tx) : IAsyncDisposable
    {
        private readonly Dictionary<(Func<string, string>, int), DbCommand> _commands = [];
        private readonly List<object> _values = [];

        /// <param name="last">Wraps the last column's parameter (a JSON document's cast), when given.</param>
        public async Task RunAsync<T>(Func<string, string> sqlFor, int columns, IReadOnlyList<T> rows, Action<List<object>, T> addRow, CancellationToken ct,
            string? last = null)
        {
            for (var start = 0; start < rows.Count; start += RowsPerStatement)
            {
                var count = Math.Min(RowsPerStatement, rows.Count - start);
                var cmd = For(sqlFor, columns, count, last);
                _values.Clear();
                for (var i = start; i < start + count; i++)
                    addRow(_values, rows[i]);
                for (var i = 0; i < _values.Count; i++)
                    cmd.Parameters[i].Value = _values[i];
                await cmd.ExecuteNonQueryAsync(ct);
            }
        }

        private DbCommand For(Func<string, string> sqlFor, int columns, int rows, string? last)
        {
            if (_commands.TryGetValue((sqlFor, rows), out var cmd))
                return cmd;
            var values = new StringBuilder();
            cmd = conn.CreateCommand();
            cmd.Transaction = tx;
            for (var r = 0; r < rows; r++)
            {
                values.Append(r == 0 ? "(" : ", (");
                for (var c = 0; c < columns; c++)
                {
                    var name = $"@v{r * columns + c}";
                    var column = c == columns - 1 && last is not null ? string.Format(System.Globalization.CultureInfo.InvariantCulture, last, name) : name;
                    values.Append(c == 0 ? column : ", " + column);
                    var p = cmd.CreateParameter();
                    p.ParameterName = name;
                    cmd.Parameters.Add(p);
                }
                values.Append(')');
            }
            cmd.CommandText = sqlFor(values.ToString());
            _commands[(sqlFor, rows)] = cmd;
            return cmd;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var cmd in _commands.Values)
                await cmd.DisposeAsync();
        }
    }

    public async Task<List<ScalarSeries>> GetSeriesAsync(IReadOnlyList<string> tasks, CancellationToken ct = default)
    {
        if (tasks.Count == 0)
            return [];
        await using var conn = await db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT id, task, metric, variant, count, min_iter, max_iter FROM scalar_series WHERE task IN ({InList(cmd, "@t", tasks)}) AND count > 0 ORDER BY metric, variant";
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var series = new List<ScalarSeries>();
        while (await reader.ReadAsync(ct))
        {
            series.Add(new ScalarSeries(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt64(4), reader.IsDBNull(5) ? 0 : reader.GetInt64(5), reader.IsDBNull(6) ? 0 : reader.GetInt64(6)));
        }
        return series;
    }

    public async Task<List<ScalarPoint>> GetScalarsAsync(long series, CancellationToken ct = default)
    {
        await using var conn = await db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT iter, value, ts FROM scalars WHERE series = @series ORDER BY iter";
        SqlDocumentStore.AddParameter(cmd, "@series", series);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var points = new List<ScalarPoint>();
        while (await reader.ReadAsync(ct))
            points.Add(new ScalarPoint(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetDouble(1), reader.GetInt64(2)));
        return points;
    }

    public async Task<List<ScalarBucket>> GetBucketsAsync(long series, int level, CancellationToken ct = default)
    {
        await using var conn = await db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT bucket, count, min_value, min_iter, min_ts, max_value, max_iter, max_ts FROM scalar_buckets WHERE series = @series AND level = @level ORDER BY bucket";
        SqlDocumentStore.AddParameter(cmd, "@series", series);
        SqlDocumentStore.AddParameter(cmd, "@level", (long)level);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var buckets = new List<ScalarBucket>();
        while (await reader.ReadAsync(ct))
        {
            buckets.Add(new ScalarBucket(reader.GetInt64(0), reader.GetInt64(1),
                new ScalarPoint(reader.GetInt64(3), reader.GetDouble(2), reader.GetInt64(4)),
                new ScalarPoint(reader.GetInt64(6), reader.GetDouble(5), reader.GetInt64(7))));
        }
        return buckets;
    }

    public async Task<List<StoredEvent>> GetEventsAsync(EventQuery query, CancellationToken ct = default)
    {
        if (query.Tasks.Count == 0 || query.Types.Count == 0)
            return [];
        await using var conn = await db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        var where = $"task IN ({InList(cmd, "@t", query.Tasks)}) AND type IN ({InList(cmd, "@y", query.Types)})";
        if (query.Metrics is { Count: > 0 } metrics)
        {
            var i = 0;
            var terms = metrics.Select(m =>
            {
                var name = $"@m{i++}";
                SqlDocumentStore.AddParameter(cmd, name, m.Key);
                return m.Value.Count == 0
                    ? $"metric = {name}"
                    : $"(metric = {name} AND variant IN ({InList(cmd, name + "v", m.Value)}))";
            });
            where += " AND (" + string.Join(" OR ", terms) + ")";
        }
        var dir = query.Descending ? "DESC" : "ASC";
        if (query.After is { } after)
        {
            where += query.Descending ? " AND (ts < @after_ts OR (ts = @after_ts AND seq < @after_seq))" : " AND (ts > @after_ts OR (ts = @after_ts AND seq > @after_seq))";
            SqlDocumentStore.AddParameter(cmd, "@after_ts", after.Timestamp);
            SqlDocumentStore.AddParameter(cmd, "@after_seq", after.Seq);
        }
        cmd.CommandText = $"SELECT seq, task, type, event_id, iter, metric, variant, ts, doc FROM events WHERE {where} ORDER BY ts {dir}, seq {dir} LIMIT {query.Limit}";
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var events = new List<StoredEvent>();
        while (await reader.ReadAsync(ct))
        {
            events.Add(new StoredEvent(reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetInt64(4), reader.GetString(5), reader.GetString(6), reader.GetInt64(7), reader.GetString(8)) { Seq = reader.GetInt64(0) });
        }
        return events;
    }

    public async Task<long> CountEventsAsync(IReadOnlyList<string> tasks, IReadOnlyList<string> types, CancellationToken ct = default)
    {
        if (tasks.Count == 0 || types.Count == 0)
            return 0;
        await using var conn = await db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM events WHERE task IN ({InList(cmd, "@t", tasks)}) AND type IN ({InList(cmd, "@y", types)})";
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct));
    }

    public async Task DeleteTaskEventsAsync(string task, CancellationToken ct = default)
    {
        await db.WriteAsync(async (conn, tx) =>
        {
            foreach (var statement in new[]
            {
                "DELETE FROM events WHERE task = @task",
                "DELETE FROM scalars WHERE series IN (SELECT id FROM scalar_series WHERE task = @task)",
                "DELETE FROM scalar_buckets WHERE series IN (SELECT id FROM scalar_series WHERE task = @task)",
                "DELETE FROM scalar_series WHERE task = @task",
            })
            {
                await using var cmd = Command(conn, tx, statement, "@task");
                await Run(cmd, ct, task);
            }
            return true;
        }, ct);
        foreach (var key in _seriesIds.Keys.Where(k => k.Task == task))
            _seriesIds.TryRemove(key, out _);
    }

    private async Task<long> SeriesIdAsync(DbConnection conn, DbTransaction tx, (string Task, string Metric, string Variant) key,
        Dictionary<(string, string, string), long> created, CancellationToken ct)
    {
        if (_seriesIds.TryGetValue(key, out var id) || created.TryGetValue(key, out id))
            return id;
        await using (var insert = Command(conn, tx, "INSERT INTO scalar_series (task, metric, variant) VALUES (@task, @metric, @variant) ON CONFLICT (task, metric, variant) DO NOTHING", "@task", "@metric", "@variant"))
            await Run(insert, ct, key.Task, key.Metric, key.Variant);
        await using var select = Command(conn, tx, "SELECT id FROM scalar_series WHERE task = @task AND metric = @metric AND variant = @variant", "@task", "@metric", "@variant");
        select.Parameters[0].Value = key.Task;
        select.Parameters[1].Value = key.Metric;
        select.Parameters[2].Value = key.Variant;
        id = Convert.ToInt64(await select.ExecuteScalarAsync(ct));
        created[key] = id;
        return id;
    }

    private static DbCommand Command(DbConnection conn, DbTransaction tx, string text, params string[] parameters)
    {
        var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = text;
        foreach (var name in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    private static Task<int> Run(DbCommand cmd, CancellationToken ct, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
            cmd.Parameters[i].Value = values[i];
        return cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<long> Scalar(DbCommand cmd, CancellationToken ct, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
            cmd.Parameters[i].Value = values[i];
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct));
    }

    private static string InList(DbCommand cmd, string prefix, IReadOnlyList<string> values)
    {
        var names = new string[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            names[i] = $"{prefix}{i}";
            SqlDocumentStore.AddParameter(cmd, names[i], values[i]);
        }
        return string.Join(", ", names);
    }
}
