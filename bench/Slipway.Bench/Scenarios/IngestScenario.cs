using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Npgsql;
using Slipway.Server.Domain.Events;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// Scalar ingestion through events.add_batch over loopback HTTP, 1/16/64 concurrent writers posting
/// 1,000-event batches, against a raw ADO.NET bulk insert of the same rows into the same engine's scalars table.
/// Besides the targets, two single-caller diagnostics split the cost: the event store alone
/// (IEventStore.AddAsync: rows + pyramid) and the ingestion pipeline without HTTP (parse, task check,
/// store, last_metrics update).
/// </summary>
public static class IngestScenario
{
    private const int BatchSize = 1000;
    private const int MaxTasks = 16;
    private static readonly int[] WriterCounts = [1, 16, 64];
    private static long _writerSlots;

    public static async Task RunAsync(BenchContext ctx)
    {
        var warmup = TimeSpan.FromSeconds(ctx.Quick ? 1 : 3);
        var measure = TimeSpan.FromSeconds(ctx.Seconds ?? (ctx.Quick ? 2 : 10));
        var writerCounts = ctx.WriterCounts ?? WriterCounts;
        CpuCosts(ctx);
        foreach (var engine in ctx.EnginesFor("ingest"))
        {
            var engineName = BenchContext.Name(engine);
            Console.WriteLine($"-- {engineName}: raw bulk insert baseline");
            var rawRows = engine == Engine.Sqlite ? (ctx.Quick ? 200_000 : 1_000_000) : (ctx.Quick ? 20_000 : 200_000);
            async Task<double> Raw() => engine == Engine.Sqlite ? RawSqlite(rawRows) : await RawPostgresAsync(ctx.Postgres, rawRows);
            // Measured before and after the Slipway runs; the figure is their mean (the machine's speed drifts).
            var rawBefore = await Raw();
            Console.WriteLine($"   raw: {Fmt.Rate(rawBefore)} over {Fmt.N(rawRows)} rows");
            var raw = rawBefore;
            var rows = new List<Row>();

            await using var server = await BenchServer.StartAsync(engine, ctx.Postgres);
            using var client = await server.LoginAsync(maxConnections: writerCounts.Max());
            var project = (await client.CallAsync("projects.create", new JsonObject { ["name"] = "ingest-bench", ["description"] = "" }))["id"]!.GetValue<string>();
            var tasks = new List<string>();
            for (var i = 0; i < MaxTasks + 2; i++)
            {
                var id = (await client.CallAsync("tasks.create", new JsonObject { ["name"] = $"ingest {i}", ["type"] = "training", ["project"] = project }))["id"]!.GetValue<string>();
                await client.CallAsync("tasks.started", new JsonObject { ["task"] = id });
                tasks.Add(id);
            }

            foreach (var writers in writerCounts)
            {
                var taskCount = Math.Min(writers, MaxTasks);
                Console.WriteLine($"-- {engineName}: {writers} writer(s) on {taskCount} task(s), {warmup.TotalSeconds:0} s warm-up + {measure.TotalSeconds:0} s");
                var (rate, failed, eventErrors, cpu) = await MeasureAsync(client, tasks.Take(taskCount).ToArray(), writers, warmup, measure);
                var ratio = rate / raw;
                string target;
                bool? met;
                if (writers == 16 && engine == Engine.Sqlite)
                {
                    target = "≥ 500,000 ev/s and ≥ 50 % of raw";
                    met = rate >= 500_000 && ratio >= 0.5;
                }
                else if (writers == 16)
                {
                    target = "≥ 50 % of raw";
                    met = ratio >= 0.5;
                }
                else
                {
                    target = "-";
                    met = null;
                }
                var notes = cpu + (failed + eventErrors > 0 ? $"; {failed} failed add_batch calls, {eventErrors} rejected events in the window" : "");
                rows.Add(new Row("ingest", engineName, $"events.add_batch, {writers} writer{(writers == 1 ? "" : "s")} on {taskCount} task{(taskCount == 1 ? "" : "s")}",
                    Fmt.Rate(rate), Fmt.Rate(raw), Fmt.Pct(ratio), target, met, notes));
            }
            // Diagnostics, one caller, no HTTP; after the HTTP runs, so that the code they share is already tiered up.
            var stores = server.Server.Stores;
            var storeRate = await StoreOnlyAsync(stores.Events, tasks[MaxTasks], warmup / 2, measure / 2);
            rows.Add(new Row("ingest", engineName, "diagnostic: event store only (IEventStore.AddAsync, 1 caller, 1,000-event batches)",
                Fmt.Rate(storeRate), Fmt.Rate(raw), Fmt.Pct(storeRate / raw), "-", null));
            var pipelineRate = await PipelineOnlyAsync(stores.Docs, stores.Events, tasks[MaxTasks + 1], warmup / 2, measure / 2);
            rows.Add(new Row("ingest", engineName, "diagnostic: ingestion pipeline without HTTP (EventIngestion.AddAsync, 1 caller)",
                Fmt.Rate(pipelineRate), Fmt.Rate(raw), Fmt.Pct(pipelineRate / raw), "-", null));

            await server.DisposeAsync();
            var rawAfter = await Raw();
            raw = (rawBefore + rawAfter) / 2;
            Console.WriteLine($"   raw again: {Fmt.Rate(rawAfter)}; baseline = mean {Fmt.Rate(raw)}");
            foreach (var row in rows)
                ctx.Results.Add(Rebase(row, raw));
            ctx.Results.Note($"ingest [{engineName}]: raw baseline {Fmt.Rate(rawBefore)} before and {Fmt.Rate(rawAfter)} after the Slipway runs ({Fmt.N(rawRows)} rows each); the table uses the mean");
        }
    }

    /// <summary>Fills in the baseline and ratio of a row whose value is a rate, against the final raw figure, and re-checks its target.</summary>
    private static Row Rebase(Row row, double raw)
    {
        var rate = double.Parse(row.Value.Split(' ')[0].Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);
        var ratio = rate / raw;
        bool? met = row.Met is null ? null : row.Target.StartsWith('≥') && row.Target.Contains("500,000", StringComparison.Ordinal)
            ? rate >= 500_000 && ratio >= 0.5
            : ratio >= 0.5;
        return row with { Baseline = Fmt.Rate(raw), Ratio = Fmt.Pct(ratio), Met = met };
    }

    /// <summary>Single-threaded CPU cost per event of the steps around the database, in microseconds.</summary>
    private static void CpuCosts(BenchContext ctx)
    {
        var rounds = ctx.Quick ? 50 : 300;
        var random = new Random(5);
        var buffer = new ArrayBufferWriter<byte>(BatchSize * 160);
        const string task = "0123456789abcdef0123456789abcdef";
        double PerEvent(Action step)
        {
            for (var i = 0; i < rounds / 5; i++)
                step();
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < rounds; i++)
                step();
            return Stopwatch.GetElapsedTime(start).TotalMicroseconds / rounds / BatchSize;
        }
        var encode = PerEvent(() =>
        {
            buffer.ResetWrittenCount();
            EncodeBatch(buffer, task, 0, random);
        });
        var body = buffer.WrittenMemory.ToArray();
        List<ScalarEvent> scalars = [];
        var parse = PerEvent(() =>
        {
            scalars = Slipway.Server.Api.RequestBody.SplitLines(body).Select(l => EventParser.Parse(l.Span, null, 0).Scalar!.Value).ToList();
        });
        var points = scalars.Select(s => s.Point).ToList();
        var summarize = PerEvent(() => LastMetrics.Summarize(scalars));
        var group = PerEvent(() => _ = scalars.GroupBy(s => (s.Task, s.Metric, s.Variant))
            .Select(g => (g.Key, Points: g.GroupBy(s => s.Point.Iter).Select(i => i.Last().Point).ToList())).ToList());
        var pyramid = PerEvent(() => _ = ScalarPyramid.Aggregate(points).Count);
        ctx.Results.Add(new Row("ingest", "-", "diagnostic: CPU per event, 1 thread (µs): client JSON encode / server line split + parse / LastMetrics.Summarize / store GroupBy / ScalarPyramid.Aggregate",
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{encode:0.00} / {parse:0.00} / {summarize:0.00} / {group:0.00} / {pyramid:0.00}"), "-", "-", "-", null));
    }

    /// <summary>
    /// Writers post batches until stopped. The warm-up lasts until every writer has had a batch answered (and at
    /// least <paramref name="warmup"/>); the window lasts <paramref name="measure"/> and until at least three
    /// batches per writer were answered in it, so slow configurations are not measured on a handful of batches.
    /// The rate counts events acknowledged inside the window.
    /// </summary>
    private static async Task<(double Rate, long FailedCalls, long EventErrors, string Cpu)> MeasureAsync(ApiClient client, string[] tasks, int writers,
        TimeSpan warmup, TimeSpan measure)
    {
        long done = 0, batches = 0, failed = 0, eventErrors = 0;
        var answered = new int[writers];
        using var stop = new CancellationTokenSource();
        var running = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var task = tasks[w % tasks.Length];
            var iter = Interlocked.Increment(ref _writerSlots) * 10_000_000_000L;
            var random = new Random(w);
            var buffer = new ArrayBufferWriter<byte>(BatchSize * 160);
            while (!stop.IsCancellationRequested)
            {
                buffer.ResetWrittenCount();
                EncodeBatch(buffer, task, iter, random);
                iter += BatchSize;
                try
                {
                    var data = await client.PostLinesAsync("events.add_batch", buffer.WrittenMemory);
                    Interlocked.Add(ref done, data["added"]!.GetValue<long>());
                    Interlocked.Add(ref eventErrors, data["errors"]!.GetValue<long>());
                }
                catch (InvalidOperationException e)
                {
                    if (Interlocked.Increment(ref failed) <= 3)
                        Console.WriteLine($"   add_batch failed: {e.Message}");
                }
                Interlocked.Increment(ref batches);
                Volatile.Write(ref answered[w], 1);
            }
        })).ToArray();
        var limit = Stopwatch.StartNew();
        await Task.Delay(warmup);
        while (answered.Any(a => Volatile.Read(ref a) == 0) && limit.Elapsed < TimeSpan.FromSeconds(60))
            await Task.Delay(100);
        var (c0, b0, t0) = (Interlocked.Read(ref done), Interlocked.Read(ref batches), Stopwatch.GetTimestamp());
        var (f0, e0) = (Interlocked.Read(ref failed), Interlocked.Read(ref eventErrors));
        var cpu = new CpuSampler();
        await Task.Delay(measure);
        while (Interlocked.Read(ref batches) - b0 < 3L * writers && Stopwatch.GetElapsedTime(t0) < TimeSpan.FromSeconds(90))
            await Task.Delay(100);
        var (c1, t1) = (Interlocked.Read(ref done), Stopwatch.GetTimestamp());
        var (f1, e1) = (Interlocked.Read(ref failed), Interlocked.Read(ref eventErrors));
        var cpuUse = CpuSampler.Describe(cpu.Stop()) + "; " + cpu.Gc()
            + string.Create(System.Globalization.CultureInfo.InvariantCulture, $"; {(double)cpu.AllocatedSinceStart / Math.Max(1, Interlocked.Read(ref done) - c0):0} bytes allocated per event");
        await stop.CancelAsync();
        await Task.WhenAll(running);
        var seconds = Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
        var rate = (c1 - c0) / seconds;
        Console.WriteLine($"   {Fmt.Rate(rate)} over {seconds:0.0} s; {cpuUse}");
        return (rate, f1 - f0, e1 - e0, $"window {seconds:0.0} s; {cpuUse}");
    }

    public static void EncodeBatch(ArrayBufferWriter<byte> buffer, string task, long firstIter, Random random)
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var writer = new Utf8JsonWriter(buffer);
        for (var i = 0; i < BatchSize; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "training_stats_scalar"u8);
            writer.WriteString("task"u8, task);
            writer.WriteNumber("iter"u8, firstIter + i);
            writer.WriteString("metric"u8, "loss"u8);
            writer.WriteString("variant"u8, "train"u8);
            writer.WriteNumber("value"u8, Math.Exp(-(firstIter % 1_000_000 + i) / 50_000.0) + random.NextDouble() * 0.05);
            writer.WriteNumber("timestamp"u8, ts);
            writer.WriteEndObject();
            writer.Flush();
            buffer.Write("\n"u8);
            writer.Reset(buffer);
        }
    }

    private static List<ScalarEvent> ScalarBatch(string task, long firstIter, Random random)
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var list = new List<ScalarEvent>(BatchSize);
        for (var i = 0; i < BatchSize; i++)
            list.Add(new ScalarEvent(task, "loss", "train", new ScalarPoint(firstIter + i, random.NextDouble(), ts)));
        return list;
    }

    private static async Task<double> StoreOnlyAsync(IEventStore events, string task, TimeSpan warmup, TimeSpan measure)
    {
        var random = new Random(1);
        var iter = Interlocked.Increment(ref _writerSlots) * 10_000_000_000L;
        var end = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            await events.AddAsync(ScalarBatch(task, iter, random), []);
            iter += BatchSize;
        }
        long count = 0;
        var start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < measure)
        {
            var batch = ScalarBatch(task, iter, random);
            iter += BatchSize;
            await events.AddAsync(batch, []);
            count += batch.Count;
        }
        var rate = count / Stopwatch.GetElapsedTime(start).TotalSeconds;
        Console.WriteLine($"   store only: {Fmt.Rate(rate)}");
        return rate;
    }

    private static async Task<double> PipelineOnlyAsync(IDocumentStore docs, IEventStore events, string task, TimeSpan warmup, TimeSpan measure)
    {
        var clock = TimeProvider.System;
        var ingestion = new EventIngestion(docs, events, new TaskUpdates(docs, clock), clock);
        var random = new Random(2);
        var iter = Interlocked.Increment(ref _writerSlots) * 10_000_000_000L;
        var buffer = new ArrayBufferWriter<byte>(BatchSize * 160);
        long count = 0;
        var warmEnd = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        long start = 0;
        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            if (start == 0 && now >= warmEnd)
                start = now;
            if (start != 0 && Stopwatch.GetElapsedTime(start) >= measure)
                break;
            buffer.ResetWrittenCount();
            EncodeBatch(buffer, task, iter, random);
            iter += BatchSize;
            var lines = Slipway.Server.Api.RequestBody.SplitLines(buffer.WrittenMemory.ToArray());
            var result = await ingestion.AddAsync(lines, null, (_, _) => ValueTask.FromResult(true), CancellationToken.None);
            if (start != 0)
                count += result.Added;
        }
        var rate = count / Stopwatch.GetElapsedTime(start).TotalSeconds;
        Console.WriteLine($"   pipeline only: {Fmt.Rate(rate)}");
        return rate;
    }

    private const string ScalarsDdlSqlite = """
        CREATE TABLE scalars (
            series INTEGER NOT NULL, iter INTEGER NOT NULL, value REAL, ts INTEGER NOT NULL,
            PRIMARY KEY (series, iter)) WITHOUT ROWID
        """;

    private const string ScalarsDdlPostgres =
        "CREATE TABLE scalars (series BIGINT NOT NULL, iter BIGINT NOT NULL, value DOUBLE PRECISION, ts BIGINT NOT NULL, PRIMARY KEY (series, iter))";

    /// <summary>The same rows straight into a fresh file with Slipway's scalars table: one prepared INSERT, 1,000 rows per transaction.</summary>
    private static double RawSqlite(int rows)
    {
        var dir = Path.Combine(Path.GetTempPath(), "slipway-bench-raw-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "raw.db");
            using var conn = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            conn.Open();
            using (var setup = conn.CreateCommand())
            {
                setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; " + ScalarsDdlSqlite;
                setup.ExecuteNonQuery();
            }
            // Warm-up (JIT tiering, page cache): at least 2 s of the same loop.
            var warm = Stopwatch.StartNew();
            for (long k = 0; warm.Elapsed < TimeSpan.FromSeconds(2) || k < 3; k++)
                Insert(conn, k * 100_000_000L, 50_000);
            var start = Stopwatch.GetTimestamp();
            Insert(conn, 1_000_000_000_000_000L, rows);
            return rows / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            BenchServer.TryDelete(dir);
        }

        static void Insert(SqliteConnection conn, long iterBase, int rows)
        {
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "INSERT INTO scalars (series, iter, value, ts) VALUES ($series, $iter, $value, $ts)";
            var pSeries = cmd.Parameters.Add("$series", SqliteType.Integer);
            var pIter = cmd.Parameters.Add("$iter", SqliteType.Integer);
            var pValue = cmd.Parameters.Add("$value", SqliteType.Real);
            var pTs = cmd.Parameters.Add("$ts", SqliteType.Integer);
            cmd.Prepare();
            var random = new Random(3);
            var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            for (var done = 0; done < rows; done += BatchSize)
            {
                using var tx = conn.BeginTransaction();
                cmd.Transaction = tx;
                for (var i = done; i < done + BatchSize && i < rows; i++)
                {
                    pSeries.Value = (long)(i / BatchSize % MaxTasks) + 1;
                    pIter.Value = iterBase + i;
                    pValue.Value = random.NextDouble();
                    pTs.Value = ts;
                    cmd.ExecuteNonQuery();
                }
                tx.Commit();
            }
        }
    }

    /// <summary>
    /// The same rows into a fresh PostgreSQL database with the equivalent table through PostgreSQL's own bulk
    /// path: binary COPY, 1,000 rows per transaction (the batch size Slipway commits).
    /// </summary>
    private static async Task<double> RawPostgresAsync(PostgresProvider postgres, int rows)
    {
        var (connection, drop) = await postgres.CreateDatabaseAsync();
        try
        {
            await using var conn = new NpgsqlConnection(connection);
            await conn.OpenAsync();
            await using (var setup = new NpgsqlCommand(ScalarsDdlPostgres, conn))
                await setup.ExecuteNonQueryAsync();
            await CopyAsync(conn, 0, Math.Min(20_000, rows / 10));
            var start = Stopwatch.GetTimestamp();
            await CopyAsync(conn, 1_000_000_000L, rows);
            return rows / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        finally
        {
            await drop();
        }

        static async Task CopyAsync(NpgsqlConnection conn, long iterBase, int rows)
        {
            var random = new Random(3);
            var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            for (var done = 0; done < rows; done += BatchSize)
            {
                await using var tx = await conn.BeginTransactionAsync();
                await using (var copy = await conn.BeginBinaryImportAsync("COPY scalars (series, iter, value, ts) FROM STDIN (FORMAT BINARY)"))
                {
                    for (var i = done; i < done + BatchSize && i < rows; i++)
                    {
                        await copy.StartRowAsync();
                        await copy.WriteAsync((long)(i / BatchSize % MaxTasks + 1), NpgsqlTypes.NpgsqlDbType.Bigint);
                        await copy.WriteAsync(iterBase + i, NpgsqlTypes.NpgsqlDbType.Bigint);
                        await copy.WriteAsync(random.NextDouble(), NpgsqlTypes.NpgsqlDbType.Double);
                        await copy.WriteAsync(ts, NpgsqlTypes.NpgsqlDbType.Bigint);
                    }
                    await copy.CompleteAsync();
                }
                await tx.CommitAsync();
            }
        }
    }
}
