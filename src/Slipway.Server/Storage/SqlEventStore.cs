using System.Buffers;
using System.Collections.Concurrent;
using System.Data.Common;
using System.Text;
using System.Text.Json;

namespace Slipway.Server.Storage;

/// <summary>How an engine spells the event store's statements.</summary>
/// <param name="MinIter">The smaller of a column and @min.</param>
/// <param name="MaxIter">The larger of a column and @max.</param>
/// <param name="Rows">A FROM item that turns the JSON array parameter @rows into rows named j.</param>
/// <param name="Column">Column N of a row of j, as the given SQL type.</param>
/// <param name="LockSeries">A statement that holds @series for the rest of the transaction, where writers run concurrently; null where they cannot.</param>
public sealed record EventSql(string MinIter, string MaxIter, string Rows, Func<int, string, string> Column, string? LockSeries);

/// <summary>
/// Events on any <see cref="SqlDatabase"/>. Scalars go to per-series chunks (<see cref="ScalarChunks"/>;
/// a re-sent point overwrites) plus the downsampling pyramid; other events are documents keyed by their id.
/// Pyramid buckets and events are written with one statement per batch, their rows passed as one JSON array
/// that the engine expands. Grouping, sorting and the pyramid deltas are done before the write
/// transaction, since SQLite runs one writer at a time.
/// </summary>
public sealed class SqlEventStore : IEventStore
{
    private readonly SqlDatabase _db;
    private readonly EventSql _sql;
    private readonly string _bucketsSql, _eventsSql;
    private readonly ConcurrentDictionary<(string Task, string Metric, string Variant), long> _seriesIds = new();

    public SqlEventStore(SqlDatabase db, EventSql sql)
    {
        _db = db;
        _sql = sql;
        string Columns(params string[] types) => string.Join(", ", types.Select((t, i) => sql.Column(i, t)));
        _bucketsSql = $"""
            INSERT INTO scalar_buckets AS b (series, level, bucket, count, min_value, min_iter, min_ts, max_value, max_iter, max_ts)
            SELECT @series, {Columns("integer", "bigint", "bigint", "float8", "bigint", "bigint", "float8", "bigint", "bigint")} FROM {sql.Rows} WHERE true
            ON CONFLICT (series, level, bucket) DO UPDATE SET
                count = b.count + excluded.count,
                min_iter = CASE WHEN excluded.min_value < b.min_value THEN excluded.min_iter ELSE b.min_iter END,
                min_ts = CASE WHEN excluded.min_value < b.min_value THEN excluded.min_ts ELSE b.min_ts END,
                min_value = CASE WHEN excluded.min_value < b.min_value THEN excluded.min_value ELSE b.min_value END,
                max_iter = CASE WHEN excluded.max_value > b.max_value THEN excluded.max_iter ELSE b.max_iter END,
                max_ts = CASE WHEN excluded.max_value > b.max_value THEN excluded.max_ts ELSE b.max_ts END,
                max_value = CASE WHEN excluded.max_value > b.max_value THEN excluded.max_value ELSE b.max_value END
            """;
        _eventsSql = $"""
            INSERT INTO events (task, type, event_id, iter, metric, variant, ts, doc)
            SELECT {Columns("text", "text", "text", "bigint", "text", "text", "bigint", "jsonb")} FROM {sql.Rows} WHERE true
            ON CONFLICT (task, event_id) WHERE event_id IS NOT NULL
            DO UPDATE SET iter = excluded.iter, ts = excluded.ts, doc = excluded.doc
            """;
    }

    private sealed record SeriesBatch((string Task, string Metric, string Variant) Key, List<List<ScalarPoint>> Chunks, string Buckets, long MinIter, long MaxIter);

    public async Task AddAsync(IReadOnlyList<ScalarEvent> scalars, IReadOnlyList<StoredEvent> others, CancellationToken ct = default)
    {
        if (scalars.Count == 0 && others.Count == 0)
            return;
        var batches = scalars.GroupBy(s => (s.Task, s.Metric, s.Variant)).Select(g =>
        {
            var points = g.Select(s => s.Point).ToList();
            // A re-sent iteration within the batch: the last one wins (points usually arrive in increasing order).
            if (!IsIncreasing(points))
                points = points.GroupBy(p => p.Iter).Select(i => i.Last()).OrderBy(p => p.Iter).ToList();
            var chunks = new List<List<ScalarPoint>>();
            foreach (var p in points)
            {
                if (chunks.Count == 0 || ScalarChunks.ChunkOf(chunks[^1][0].Iter) != ScalarChunks.ChunkOf(p.Iter))
                    chunks.Add([]);
                chunks[^1].Add(p);
            }
            var bucketsJson = JsonRows(ScalarPyramid.Aggregate(points).ToList(), (w, b) =>
            {
                w.WriteNumberValue(b.Level);
                w.WriteNumberValue(b.Bucket.Bucket);
                w.WriteNumberValue(b.Bucket.Count);
                WriteValue(w, b.Bucket.Min.Value);
                w.WriteNumberValue(b.Bucket.Min.Iter);
                w.WriteNumberValue(b.Bucket.Min.Timestamp);
                WriteValue(w, b.Bucket.Max.Value);
                w.WriteNumberValue(b.Bucket.Max.Iter);
                w.WriteNumberValue(b.Bucket.Max.Timestamp);
            });
            return new SeriesBatch(g.Key, chunks, bucketsJson, points[0].Iter, points[^1].Iter);
        }).ToList();
        var eventsJson = others.Count == 0 ? null : JsonRows(others, (w, e) =>
        {
            w.WriteStringValue(e.Task);
            w.WriteStringValue(e.Type);
            if (e.EventId is null)
                w.WriteNullValue();
            else
                w.WriteStringValue(e.EventId);
            w.WriteNumberValue(e.Iter);
            w.WriteStringValue(e.Metric);
            w.WriteStringValue(e.Variant);
            w.WriteNumberValue(e.Timestamp);
            w.WriteStringValue(e.Doc);
        });

        // Series created in this transaction are cached only once it commits.
        var created = new Dictionary<(string, string, string), long>();
        await _db.WriteAsync(async (conn, tx) =>
        {
            created.Clear();
            await using var readChunk = Command(conn, tx, "SELECT points FROM scalar_chunks WHERE series = @series AND chunk = @chunk", "@series", "@chunk");
            await using var writeChunk = Command(conn, tx,
                "INSERT INTO scalar_chunks (series, chunk, points) VALUES (@series, @chunk, @points) ON CONFLICT (series, chunk) DO UPDATE SET points = excluded.points",
                "@series", "@chunk", "@points");
            await using var buckets = Command(conn, tx, _bucketsSql, "@series", "@rows");
            await using var updateSeries = Command(conn, tx,
                $"UPDATE scalar_series SET count = count + @count, min_iter = {_sql.MinIter}, max_iter = {_sql.MaxIter} WHERE id = @series",
                "@count", "@min", "@max", "@series");
            await using var lockSeries = _sql.LockSeries is null ? null : Command(conn, tx, _sql.LockSeries, "@series");
            var ordered = new List<(long Series, SeriesBatch Batch)>();
            foreach (var batch in batches)
                ordered.Add((await SeriesIdAsync(conn, tx, batch.Key, created, ct), batch));
            // Series are locked in id order, so two batches never wait on each other in a cycle.
            foreach (var (series, batch) in ordered.OrderBy(b => b.Series))
            {
                if (lockSeries is not null)
                    await Run(lockSeries, ct, series);
                long added = 0;
                foreach (var chunk in batch.Chunks)
                {
                    var key = ScalarChunks.ChunkOf(chunk[0].Iter);
                    readChunk.Parameters[0].Value = series;
                    readChunk.Parameters[1].Value = key;
                    var stored = await readChunk.ExecuteScalarAsync(ct) as byte[];
                    var (blob, newPoints) = ScalarChunks.Merge(stored, chunk);
                    added += newPoints;
                    await Run(writeChunk, ct, series, key, blob);
                }
                await Run(buckets, ct, series, batch.Buckets);
                await Run(updateSeries, ct, added, batch.MinIter, batch.MaxIter, series);
            }
            if (eventsJson is not null)
            {
                await using var events = Command(conn, tx, _eventsSql, "@rows");
                await Run(events, ct, eventsJson);
            }
            return true;
        }, ct);
        foreach (var (key, id) in created)
            _seriesIds[key] = id;
    }

    private static bool IsIncreasing(List<ScalarPoint> points)
    {
        for (var i = 1; i < points.Count; i++)
        {
            if (points[i].Iter <= points[i - 1].Iter)
                return false;
        }
        return true;
    }

    /// <summary>A JSON array of arrays, one per row, as the statements' @rows parameter.</summary>
    private static string JsonRows<T>(IReadOnlyList<T> rows, Action<Utf8JsonWriter, T> writeRow)
    {
        var buffer = new ArrayBufferWriter<byte>(rows.Count * 48 + 16);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var row in rows)
            {
                writer.WriteStartArray();
                writeRow(writer, row);
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteValue(Utf8JsonWriter writer, double? value)
    {
        if (value is { } v && double.IsFinite(v))
            writer.WriteNumberValue(v);
        else
            writer.WriteNullValue();
    }

    /// <summary>Moves points from the per-point table of earlier versions into chunks (once; a no-op when it is empty).</summary>
    public async Task MoveLegacyPointsAsync(CancellationToken ct)
    {
        var legacy = new Dictionary<(long Series, long Chunk), List<ScalarPoint>>();
        await using (var conn = await _db.OpenReadAsync(ct))
        await using (var cmd = conn.CreateCommand())
        {
            cmd.CommandText = "SELECT series, iter, value, ts FROM scalars ORDER BY series, iter";
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var point = new ScalarPoint(reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetDouble(2), reader.GetInt64(3));
                var key = (reader.GetInt64(0), ScalarChunks.ChunkOf(point.Iter));
                if (!legacy.TryGetValue(key, out var points))
                    legacy[key] = points = [];
                points.Add(point);
            }
        }
        if (legacy.Count == 0)
            return;
        await _db.WriteAsync(async (conn, tx) =>
        {
            await using var write = Command(conn, tx,
                "INSERT INTO scalar_chunks (series, chunk, points) VALUES (@series, @chunk, @points) ON CONFLICT (series, chunk) DO NOTHING",
                "@series", "@chunk", "@points");
            foreach (var ((series, chunk), points) in legacy)
                await Run(write, ct, series, chunk, ScalarChunks.Merge([], points).Blob);
            await using var clear = Command(conn, tx, "DELETE FROM scalars");
            await clear.ExecuteNonQueryAsync(ct);
            return true;
        }, ct);
    }

    public async Task<List<ScalarSeries>> GetSeriesAsync(IReadOnlyList<string> tasks, CancellationToken ct = default)
    {
        if (tasks.Count == 0)
            return [];
        await using var conn = await _db.OpenReadAsync(ct);
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

    public Task<List<ScalarPoint>> GetScalarsAsync(long series, CancellationToken ct = default) =>
        GetScalarsAsync(series, long.MinValue, long.MaxValue, ct);

    public async Task<List<ScalarPoint>> GetScalarsAsync(long series, long fromIter, long toIter, CancellationToken ct = default)
    {
        if (fromIter > toIter)
            return [];
        await using var conn = await _db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT points FROM scalar_chunks WHERE series = @series AND chunk BETWEEN @from AND @to ORDER BY chunk";
        SqlDocumentStore.AddParameter(cmd, "@series", series);
        SqlDocumentStore.AddParameter(cmd, "@from", ScalarChunks.ChunkOf(fromIter));
        SqlDocumentStore.AddParameter(cmd, "@to", ScalarChunks.ChunkOf(toIter));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var points = new List<ScalarPoint>();
        while (await reader.ReadAsync(ct))
        {
            foreach (var p in ScalarChunks.Decode((byte[])reader.GetValue(0)))
            {
                if (p.Iter >= fromIter && p.Iter <= toIter)
                    points.Add(p);
            }
        }
        return points;
    }

    public Task<List<ScalarBucket>> GetBucketsAsync(long series, int level, CancellationToken ct = default) =>
        GetBucketsAsync(series, level, long.MinValue, long.MaxValue, ct);

    public async Task<List<ScalarBucket>> GetBucketsAsync(long series, int level, long fromBucket, long toBucket, CancellationToken ct = default)
    {
        if (fromBucket > toBucket)
            return [];
        await using var conn = await _db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = """
            SELECT bucket, count, min_value, min_iter, min_ts, max_value, max_iter, max_ts FROM scalar_buckets
            WHERE series = @series AND level = @level AND bucket BETWEEN @from AND @to ORDER BY bucket
            """;
        SqlDocumentStore.AddParameter(cmd, "@series", series);
        SqlDocumentStore.AddParameter(cmd, "@level", (long)level);
        SqlDocumentStore.AddParameter(cmd, "@from", fromBucket);
        SqlDocumentStore.AddParameter(cmd, "@to", toBucket);
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
        await using var conn = await _db.OpenReadAsync(ct);
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
            var text = reader.IsDBNull(3) ? null : reader.GetString(3);
            events.Add(new StoredEvent(reader.GetString(1), reader.GetString(2), text, reader.GetInt64(4), reader.GetString(5), reader.GetString(6), reader.GetInt64(7), reader.GetString(8))
            {
                Seq = reader.GetInt64(0),
            });
        }
        return events;
    }

    public async Task<long> CountEventsAsync(IReadOnlyList<string> tasks, IReadOnlyList<string> types, CancellationToken ct = default)
    {
        if (tasks.Count == 0 || types.Count == 0)
            return 0;
        await using var conn = await _db.OpenReadAsync(ct);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM events WHERE task IN ({InList(cmd, "@t", tasks)}) AND type IN ({InList(cmd, "@y", types)})";
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct));
    }

    private static readonly string[] DeleteTaskEvents =
    [
        "DELETE FROM events WHERE task = @task",
        "DELETE FROM scalar_chunks WHERE series IN (SELECT id FROM scalar_series WHERE task = @task)",
        "DELETE FROM scalar_buckets WHERE series IN (SELECT id FROM scalar_series WHERE task = @task)",
        "DELETE FROM scalar_series WHERE task = @task",
    ];

    public async Task DeleteTaskEventsAsync(string task, CancellationToken ct = default)
    {
        await _db.WriteAsync(async (conn, tx) =>
        {
            foreach (var statement in DeleteTaskEvents)
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
