using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Npgsql;
using Slipway.Server.Storage;

namespace Slipway.Server.Tests.Storage;

/// <summary>The indexes made on first use for ordering by a metric: capped per table in the database, not per process.</summary>
public abstract class SortIndexTests(string engine) : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "slipway-sort-" + Guid.NewGuid().ToString("N")[..8]);
    protected string? Database { get; private set; }

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        if (engine == "postgres")
            Database = PostgresCluster.CreateDatabase();
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (Database is not null)
            PostgresCluster.DropDatabase(Database);
        Directory.Delete(_dir, true);
        return Task.CompletedTask;
    }

    /// <summary>What the stores opened by this test logged.</summary>
    protected LogRecorder Logs { get; } = new();

    protected Task<Stores> OpenAsync() => Stores.OpenAsync(Database, Path.Combine(_dir, "store.db"), LoggerFactory.Create(Logs.AddTo), CancellationToken.None);

    protected static DocQuery OrderedBy(string metric) => new() { Take = 10, OrderBy = { new SortKey($"last_metrics.{metric}.v.value", true) } };

    /// <summary>The sort indexes on the tasks table as the catalog lists them (each field has two: all projects, one project).</summary>
    protected static async Task<List<string>> SortIndexesAsync(Stores stores)
    {
        await using var conn = await stores.Database.OpenReadAsync(CancellationToken.None);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = stores.Database.Engine == "postgres"
            ? "SELECT indexname FROM pg_indexes WHERE tablename = 'tasks' AND indexname LIKE 'tasks\\_sort\\_%'"
            : "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' AND name LIKE 'tasks\\_sort\\_%' ESCAPE '\\'";
        await using var reader = await cmd.ExecuteReaderAsync();
        var names = new List<string>();
        while (await reader.ReadAsync())
            names.Add(reader.GetString(0));
        return names;
    }

    [Fact]
    public async Task The_cap_of_32_fields_per_table_holds_across_a_restart()
    {
        await using (var first = await OpenAsync())
        {
            await first.Docs.InsertAsync(Collection.Tasks, "t1", new JsonObject { ["id"] = "t1", ["last_metrics"] = new JsonObject() });
            for (var i = 0; i < 30; i++)
                await first.Docs.FindAsync(Collection.Tasks, OrderedBy($"m{i}"));
            Assert.Equal(60, (await SortIndexesAsync(first)).Count);
        }
        await using (var second = await OpenAsync())
        {
            // A fresh process has seen no field yet: the room left is read from the catalog, two fields' worth.
            for (var i = 30; i < 40; i++)
                await second.Docs.FindAsync(Collection.Tasks, OrderedBy($"m{i}"));
            Assert.Equal(64, (await SortIndexesAsync(second)).Count);
            // A field that has its indexes keeps them: it is not counted twice.
            await second.Docs.FindAsync(Collection.Tasks, OrderedBy("m3"));
            Assert.Equal(64, (await SortIndexesAsync(second)).Count);
        }
        await using var third = await OpenAsync();
        await third.Docs.FindAsync(Collection.Tasks, OrderedBy("m99"));
        Assert.Equal(64, (await SortIndexesAsync(third)).Count);
        Assert.Equal(32, Logs.Entries.Count(e => e.Message.StartsWith("Built a sort index on tasks for last_metrics.m", StringComparison.Ordinal)));
        Assert.True(Logs.Contains(LogLevel.Warning, "No sort index on tasks for last_metrics.m99.v.value: the table has its 32"));
    }

    [Fact]
    public async Task Two_stores_on_one_database_share_the_cap()
    {
        await using var one = await OpenAsync();
        await using var other = await OpenAsync();
        for (var i = 0; i < 20; i++)
        {
            await one.Docs.FindAsync(Collection.Tasks, OrderedBy($"a{i}"));
            await other.Docs.FindAsync(Collection.Tasks, OrderedBy($"b{i}"));
        }
        Assert.Equal(64, (await SortIndexesAsync(one)).Count);
    }
}

public sealed class SortIndexTestsOnSqlite() : SortIndexTests("sqlite");

public sealed class SortIndexTestsOnPostgres() : SortIndexTests("postgres")
{
    [Fact]
    public async Task A_write_to_the_table_completes_while_a_sort_index_is_built_and_the_index_is_valid()
    {
        await using var stores = await OpenAsync();
        await stores.Docs.InsertAsync(Collection.Tasks, "t1", new JsonObject { ["id"] = "t1" });

        // An open transaction that has written to the table: a plain CREATE INDEX queues for its lock, and every later write
        // queues behind that; a concurrent build waits for the transaction without taking the lock that writes need.
        await using var holder = new NpgsqlConnection(Database);
        await holder.OpenAsync();
        await using var tx = await holder.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE tasks IN ROW EXCLUSIVE MODE", holder, tx))
            await lockTable.ExecuteNonQueryAsync();

        var find = stores.Docs.FindAsync(Collection.Tasks, OrderedBy("loss"));
        // Another connection: inside a transaction the activity view keeps the first picture it gave.
        await using var watcher = new NpgsqlConnection(Database);
        await watcher.OpenAsync();
        await WaitForWaitingIndexBuildAsync(watcher);

        // Not a timing bound: without a concurrent build this write waits until the transaction above ends, which it
        // does only after this line.
        var write = stores.Docs.InsertAsync(Collection.Tasks, "t2", new JsonObject { ["id"] = "t2" });
        Assert.True(await write.WaitAsync(TimeSpan.FromMinutes(1)));

        await tx.CommitAsync();
        Assert.Equal(2, (await find).Count);
        var states = await IndexStatesAsync(watcher);
        Assert.Equal(2, states.Count);
        Assert.All(states, s => Assert.True(s.Valid, $"{s.Name} is not valid"));
    }

    [Fact]
    public async Task An_index_left_invalid_by_a_failed_concurrent_build_is_built_again()
    {
        await using var stores = await OpenAsync();
        await stores.Docs.InsertAsync(Collection.Tasks, "t1", new JsonObject { ["id"] = "t1", ["name"] = "same" });
        await stores.Docs.InsertAsync(Collection.Tasks, "t2", new JsonObject { ["id"] = "t2", ["name"] = "same" });
        // The first query makes the field's indexes; they are then replaced by the leftover of a failed concurrent build
        // under the same name (a unique index over duplicates fails, and stays in the catalog as not valid).
        await stores.Docs.FindAsync(Collection.Tasks, OrderedBy("loss"));
        await using var conn = new NpgsqlConnection(Database);
        await conn.OpenAsync();
        var name = (await IndexStatesAsync(conn)).Select(s => s.Name).Single(n => !n.EndsWith("_project", StringComparison.Ordinal));
        await Execute(conn, $"DROP INDEX {name}");
        await Assert.ThrowsAsync<PostgresException>(() => Execute(conn, $"CREATE UNIQUE INDEX CONCURRENTLY {name} ON tasks ((doc ->> 'name'))"));
        Assert.Contains(await IndexStatesAsync(conn), s => s is { Valid: false } && s.Name == name);

        // A fresh store (a restart) has not seen the field: it reads the catalog, finds the index unusable and rebuilds it.
        await using var restarted = await OpenAsync();
        await restarted.Docs.FindAsync(Collection.Tasks, OrderedBy("loss"));
        var states = await IndexStatesAsync(conn);
        Assert.Equal(2, states.Count);
        Assert.All(states, s => Assert.True(s.Valid, $"{s.Name} is not valid"));
        Assert.True(Logs.Contains(LogLevel.Warning, $"Dropping {name} on tasks, left invalid by an earlier build"));
    }

    private static async Task Execute(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<List<(string Name, bool Valid)>> IndexStatesAsync(NpgsqlConnection conn)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = 'tasks' AND c.relname LIKE 'tasks\_sort\_%'
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var states = new List<(string, bool)>();
        while (await reader.ReadAsync())
            states.Add((reader.GetString(0), reader.GetBoolean(1)));
        return states;
    }

    // Waits for a state of the database, not for time: the store's index build has reached the server and waits on a lock.
    private static async Task WaitForWaitingIndexBuildAsync(NpgsqlConnection conn)
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (true)
        {
            await using var cmd = new NpgsqlCommand("""
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND query ILIKE 'CREATE INDEX%' AND wait_event_type = 'Lock'
                """, conn);
            if ((long)(await cmd.ExecuteScalarAsync(giveUp.Token))! > 0)
                return;
            await Task.Delay(20, giveUp.Token);
        }
    }
}
