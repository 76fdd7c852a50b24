using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Server.Core;
using Slipway.Server.Domain.Events;
using Slipway.Server.Storage;

namespace Slipway.Server.Tests.Storage;

/// <summary>What every store implementation promises, run against each engine.</summary>
public abstract class StoreContractTests(string engine) : IAsyncLifetime
{
    private readonly StoreFixture _store = new(engine);

    public Task InitializeAsync() => _store.InitializeAsync();

    public Task DisposeAsync() => _store.DisposeAsync();

    private IDocumentStore Docs => _store.Docs;

    private static JsonObject Task(string id, string name, string status, string? project = null, params string[] tags) => new()
    {
        ["id"] = id, ["name"] = name, ["status"] = status, ["project"] = project, ["system_tags"] = Json.SortedStrings(tags),
        ["last_metrics"] = new JsonObject { ["m"] = new JsonObject { ["v"] = new JsonObject { ["value"] = name.Length } } },
    };

    [Fact]
    public async Task Replace_is_a_compare_and_swap_on_the_version_read()
    {
        Assert.True(await Docs.InsertAsync(Collection.Tasks, "t1", Task("t1", "a", "created")));
        Assert.False(await Docs.InsertAsync(Collection.Tasks, "t1", Task("t1", "b", "created")));
        var first = (await Docs.GetAsync(Collection.Tasks, "t1"))!;
        var second = (await Docs.GetAsync(Collection.Tasks, "t1"))!;
        Assert.True(await Docs.ReplaceAsync(Collection.Tasks, first, Task("t1", "x", "queued")));
        Assert.False(await Docs.ReplaceAsync(Collection.Tasks, second, Task("t1", "y", "failed")));
        var now = (await Docs.GetAsync(Collection.Tasks, "t1"))!;
        Assert.Equal("x", now.Body["name"]!.GetValue<string>());
        Assert.Equal(first.Version + 1, now.Version);
        Assert.True(await Docs.DeleteAsync(Collection.Tasks, "t1"));
        Assert.Null(await Docs.GetAsync(Collection.Tasks, "t1"));
    }

    [Fact]
    public async Task Unique_names_are_enforced_for_projects_and_queues()
    {
        Assert.True(await Docs.InsertAsync(Collection.Projects, "p1", new JsonObject { ["id"] = "p1", ["name"] = "same" }));
        Assert.False(await Docs.InsertAsync(Collection.Projects, "p2", new JsonObject { ["id"] = "p2", ["name"] = "same" }));
        Assert.True(await Docs.InsertAsync(Collection.Queues, "q1", new JsonObject { ["id"] = "q1", ["name"] = "same" }));
        Assert.False(await Docs.InsertAsync(Collection.Queues, "q2", new JsonObject { ["id"] = "q2", ["name"] = "same" }));
    }

    [Fact]
    public async Task A_page_ordered_by_a_metric_key_starting_with_a_digit_is_in_order_and_skips_archived_tasks()
    {
        // Metric keys are hex hashes; such a path is written into the SQL (an index on it is made on first use).
        for (var i = 0; i < 30; i++)
        {
            var task = new JsonObject
            {
                ["id"] = $"t{i:00}", ["project"] = "p",
                ["system_tags"] = i % 10 == 3 ? new JsonArray("archived") : new JsonArray(),
                ["last_metrics"] = new JsonObject { ["3f0a"] = new JsonObject { ["9b"] = new JsonObject { ["value"] = (i * 7) % 30 } } },
            };
            await Docs.InsertAsync(Collection.Tasks, $"t{i:00}", task);
        }
        var query = new DocQuery { Take = 5 }.Where(new FieldIn("project", ["p"])).Where(new TagMatch("system_tags", TagQuery.Parse(["-archived"])));
        query.OrderBy.Add(new SortKey("last_metrics.3f0a.9b.value", Descending: true));
        var page = await Docs.FindAsync(Collection.Tasks, query);
        var values = page.Select(d => Json.GetLong(Json.Get(d.Body, "last_metrics.3f0a.9b.value"))).ToList();
        Assert.Equal([29, 28, 27, 26, 25], values);
        Assert.DoesNotContain(page, d => Json.GetStrings(d.Body, "system_tags").Contains("archived"));
        query.OrderBy[0] = query.OrderBy[0] with { Descending = false };
        Assert.Equal([0, 2, 3, 4, 5], (await Docs.FindAsync(Collection.Tasks, query)).Select(d => Json.GetLong(Json.Get(d.Body, "last_metrics.3f0a.9b.value"))).ToList());
        var visible = new DocQuery().Where(new FieldIn("project", ["p"])).Where(new TagMatch("system_tags", TagQuery.Parse(["-archived"])));
        Assert.Equal(27, await Docs.CountAsync(Collection.Tasks, visible));
        Assert.Equal(10, await Docs.CountUpToAsync(Collection.Tasks, visible, 10));
        Assert.Equal(27, await Docs.CountUpToAsync(Collection.Tasks, visible, 100));
    }

    [Fact]
    public async Task Queries_filter_order_page_and_count()
    {
        await Docs.InsertAsync(Collection.Tasks, "a", Task("a", "alpha", "created", "p", "x"));
        await Docs.InsertAsync(Collection.Tasks, "b", Task("b", "bravo-long", "queued", "p", "x", "hidden"));
        await Docs.InsertAsync(Collection.Tasks, "c", Task("c", "charlie", "queued", "q"));
        await Docs.InsertAsync(Collection.Tasks, "d", Task("d", "delta", "queued"));

        async Task<string[]> Ids(DocQuery q) => (await Docs.FindAsync(Collection.Tasks, q)).Select(d => d.Id).ToArray();
        DocQuery ByName() => new() { OrderBy = { new SortKey("name", false) } };

        Assert.Equal(["b", "c", "d"], await Ids(ByName().Where(new FieldIn("status", ["queued"]))));
        Assert.Equal(["a", "b"], await Ids(ByName().Where(new FieldIn("project", ["p"]))));
        Assert.Equal(["d"], await Ids(ByName().Where(new FieldMissing("project"))));
        Assert.Equal(["b", "c"], await Ids(ByName().Where(new FieldMatches("name", "^[bc]"))));
        Assert.Equal(["a", "c", "d"], await Ids(ByName().Where(new TagMatch("system_tags", TagQuery.Parse(["-hidden"])))));
        Assert.Equal(["c", "d"], await Ids(ByName().Where(new TagMatch("system_tags", TagQuery.Parse([null])))));
        Assert.Equal(["c"], await Ids(ByName().Where(new TextContains(["name", "id"], "ARL"))));
        Assert.Equal(["c"], await Ids(ByName().Where(new FieldStartsWith("name", "char"))));
        // alpha and delta tie (5): ties break on id in the direction of the last key, on both engines.
        Assert.Equal(["b", "c", "d", "a"], await Ids(new DocQuery { OrderBy = { new SortKey("last_metrics.m.v.value", true) } }));
        Assert.Equal(["b", "c"], await Ids(new DocQuery { Skip = 1, Take = 2, OrderBy = { new SortKey("name", false) } }));
        Assert.Equal(3, await Docs.CountAsync(Collection.Tasks, new DocQuery().Where(new FieldIn("status", ["queued"]))));
        var counts = await Docs.CountByAsync(Collection.Tasks, new DocQuery(), "project", "status");
        Assert.Contains(new GroupCount("p", "queued", 1), counts);
        Assert.Contains(new GroupCount(null, "queued", 1), counts);
    }

    [Fact]
    public async Task Queue_entries_keep_order_pop_once_and_reorder()
    {
        var q = _store.Stores.QueueEntries;
        foreach (var t in new[] { "t1", "t2", "t3" })
            await q.AddAsync("q", t, "2026-01-01T00:00:00.000000+00:00");
        await q.AddAsync("other", "t2", "2026-01-01T00:00:00.000000+00:00");
        Assert.Equal(3, await q.CountAsync("q"));
        await q.ReorderAsync("q", [.. (await q.ListAsync("q")).OrderByDescending(e => e.Task)]);
        Assert.Equal(["t3", "t2", "t1"], (await q.ListAsync("q")).Select(e => e.Task));
        Assert.Equal("t3", (await q.PopAsync("q"))!.Task);
        Assert.Equal(["q", "other"], (await q.RemoveEverywhereAsync("t2")).Order().Reverse());
        Assert.Equal("t1", (await q.PopAsync("q"))!.Task);
        Assert.Null(await q.PopAsync("q"));
    }

    [Fact]
    public async Task Scalars_overwrite_keep_an_exact_count_and_a_pyramid()
    {
        var events = _store.Stores.Events;
        var points = Enumerable.Range(0, 100).Select(i => new ScalarEvent("t", "loss", "train", new ScalarPoint(i, i, 1000 + i))).ToList();
        await events.AddAsync(points, []);
        await events.AddAsync([new ScalarEvent("t", "loss", "train", new ScalarPoint(50, -5, 1)), new ScalarEvent("t", "loss", "train", new ScalarPoint(100, 7, 2))], []);
        var series = Assert.Single(await events.GetSeriesAsync(["t"]));
        Assert.Equal((101L, 0L, 100L), (series.Count, series.MinIter, series.MaxIter));
        var stored = await events.GetScalarsAsync(series.Id);
        Assert.Equal(-5, stored.Single(p => p.Iter == 50).Value);
        var level0 = await events.GetBucketsAsync(series.Id, 0);
        Assert.Equal(7, level0.Count);
        Assert.Equal(-5, level0.Single(b => b.Bucket == 3).Min.Value);
        await events.DeleteTaskEventsAsync("t");
        Assert.Empty(await events.GetSeriesAsync(["t"]));
    }

    [Fact]
    public async Task Scalars_and_buckets_read_by_iteration_range()
    {
        var events = _store.Stores.Events;
        // Three chunks' worth, with a gap, so a range starts and ends inside chunks and spans a missing one.
        var points = Enumerable.Range(0, 3000).Where(i => i is < 1100 or >= 2100).Select(i => new ScalarEvent("t", "loss", "train", new ScalarPoint(i, i * 0.5, 1000 + i))).ToList();
        await events.AddAsync(points, []);
        var series = Assert.Single(await events.GetSeriesAsync(["t"]));

        var range = await events.GetScalarsAsync(series.Id, 1000, 2200);
        Assert.Equal(Enumerable.Range(1000, 100).Concat(Enumerable.Range(2100, 101)).Select(i => (long)i), range.Select(p => p.Iter));
        Assert.Equal(new ScalarPoint(2200, 1100, 3200), range[^1]);
        Assert.Empty(await events.GetScalarsAsync(series.Id, 1200, 2000));
        Assert.Empty(await events.GetScalarsAsync(series.Id, 10, 5));
        Assert.Equal(points.Count, (await events.GetScalarsAsync(series.Id, long.MinValue, long.MaxValue)).Count);

        var buckets = await events.GetBucketsAsync(series.Id, 0, 10, 20);
        Assert.Equal(Enumerable.Range(10, 11).Select(b => (long)b), buckets.Select(b => b.Bucket));
        Assert.Equal(new ScalarPoint(160, 80, 1160), buckets[0].Min);
        Assert.Equal(new ScalarPoint(335, 167.5, 1335), buckets[^1].Max);
        Assert.Equal(16, buckets[0].Count);
        var coarse = await events.GetBucketsAsync(series.Id, 2, 0, 100);
        Assert.Equal((await events.GetBucketsAsync(series.Id, 2)).Select(b => b.Bucket), coarse.Select(b => b.Bucket));
    }

    [Fact]
    public async Task A_histogram_zoomed_into_a_long_series_shows_its_raw_points()
    {
        var events = _store.Stores.Events;
        var histogram = new ScalarHistogram(events);
        await events.AddAsync(Enumerable.Range(0, 200_000).Select(i => new ScalarEvent("t", "loss", "train", new ScalarPoint(i, Math.Sin(i / 50.0), i))).ToList(), []);
        await events.AddAsync(Enumerable.Range(0, 2_000).Select(i => new ScalarEvent("t", "loss", "sparse", new ScalarPoint(i * 100L, i, i))).ToList(), []);
        var all = await events.GetSeriesAsync(["t"]);
        var dense = all.Single(s => s.Variant == "train");
        var sparse = all.Single(s => s.Variant == "sparse");

        var overview = await histogram.PointsAsync(dense, 2000, CancellationToken.None);
        Assert.InRange(overview.Count, 1000, 2000);
        Assert.Equal(overview.Select(p => p.Iter).Order(), overview.Select(p => p.Iter));

        var zoomed = await histogram.PointsAsync(dense, 2000, 150_000, 150_999, CancellationToken.None);
        Assert.Equal(Enumerable.Range(150_000, 1000).Select(i => (long)i), zoomed.Select(p => p.Iter));

        // Wider than the sample count: a pyramid level, limited to the range (edge buckets at most one bucket past it).
        var wide = await histogram.PointsAsync(dense, 2000, 100_000, 140_000, CancellationToken.None);
        Assert.InRange(wide.Count, 1000, 2000);
        Assert.All(wide, p => Assert.InRange(p.Iter, 100_000 - 64, 140_000 + 64));
        Assert.Contains(wide, p => p.Value > 0.999);
        Assert.Contains(wide, p => p.Value < -0.999);

        // A sparse series over a long range: the points in range fit, so they come back raw.
        var fewer = await histogram.PointsAsync(sparse, 500, 50_000, 90_000, CancellationToken.None);
        Assert.Equal(Enumerable.Range(500, 401).Select(i => i * 100L), fewer.Select(p => p.Iter));
        Assert.Empty(await histogram.PointsAsync(dense, 2000, 300_000, 400_000, CancellationToken.None));
    }

    [Fact]
    public async Task Other_events_overwrite_by_id_and_page_by_time()
    {
        var events = _store.Stores.Events;
        StoredEvent Log(int i) => new("t", "log", null, 0, "", "", 1000 + i, $$"""{"msg":"{{i}}"}""");
        await events.AddAsync([], [.. Enumerable.Range(0, 10).Select(Log)]);
        await events.AddAsync([], [new StoredEvent("t", "plot", "id1", 1, "m", "v", 5, """{"v":1}""")]);
        await events.AddAsync([], [new StoredEvent("t", "plot", "id1", 1, "m", "v", 6, """{"v":2}""")]);
        var plots = await events.GetEventsAsync(new EventQuery(["t"], ["plot"]));
        Assert.Equal(2, JsonNode.Parse(Assert.Single(plots).Doc)!["v"]!.GetValue<int>());
        var first = await events.GetEventsAsync(new EventQuery(["t"], ["log"]) { Limit = 4 });
        var next = await events.GetEventsAsync(new EventQuery(["t"], ["log"]) { Limit = 4, After = (first[^1].Timestamp, first[^1].Seq) });
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6", "7"], first.Concat(next).Select(e => JsonNode.Parse(e.Doc)!["msg"]!.GetValue<string>()));
        Assert.Equal(10, await events.CountEventsAsync(["t"], ["log"]));
    }

    [Fact]
    public async Task A_broad_filter_finds_what_its_inner_filter_finds_ordered_or_not()
    {
        for (var i = 0; i < 60; i++)
        {
            var task = Task($"t{i:00}", $"n{i}", "completed", i % 7 == 0 ? null : $"p{i % 5}");
            task["user"] = i % 2 == 0 ? "me" : "other";
            task["last_update"] = $"2026-12-01T00:00:{i % 13:00}";
            await Docs.InsertAsync(Collection.Tasks, $"t{i:00}", task);
        }
        DocFilter scope = new AnyOf([new FieldIn("project", ["p1", "p2", "p3"]), new AllOf([new FieldMissing("project"), new FieldIn("user", ["me"])])]);
        foreach (var ordered in new[] { false, true })
        {
            DocQuery Query(DocFilter filter)
            {
                var query = new DocQuery { Take = 10, Skip = 5 }.Where(filter);
                if (ordered)
                    query.OrderBy.Add(new SortKey("last_update", true));
                return query;
            }
            var plain = (await Docs.FindAsync(Collection.Tasks, Query(scope))).Select(d => d.Id).ToList();
            var broad = (await Docs.FindAsync(Collection.Tasks, Query(new Broad(scope)))).Select(d => d.Id).ToList();
            Assert.Equal(10, plain.Count);
            if (ordered)
                Assert.Equal(plain, broad);
            else
                Assert.Equal(plain.Order(), broad.Order());
        }
    }

    [Fact]
    public async Task Reopening_a_database_keeps_its_data_and_applies_no_step_twice()
    {
        await Docs.InsertAsync(Collection.Users, "u", new JsonObject { ["id"] = "u", ["name"] = "kept" });
        await _store.ReopenAsync();
        Assert.Equal("kept", (await Docs.GetAsync(Collection.Users, "u"))!.Body["name"]!.GetValue<string>());
    }
}

public sealed class StoreContractTestsOnSqlite() : StoreContractTests("sqlite");

public sealed class StoreContractTestsOnPostgres() : StoreContractTests("postgres");

public sealed class SchemaUpgradeTests
{
    [Fact]
    public async Task An_old_sqlite_schema_is_upgraded_in_place()
    {
        var dir = Path.Combine(Path.GetTempPath(), "slipway-upgrade-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "old.db");
        // A database made by an older Slipway: only the first steps, and their count recorded.
        await using (var conn = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            await conn.OpenAsync();
            await SchemaMigrations.ApplyAsync(conn, [.. Server.Storage.Sqlite.SqliteSchema.Steps.Take(6)], CancellationToken.None);
            await using var insert = conn.CreateCommand();
            insert.CommandText = """INSERT INTO tasks (id, version, doc) VALUES ('old', 1, '{"id":"old","name":"from before"}')""";
            await insert.ExecuteNonQueryAsync();
        }
        var logs = new LogRecorder();
        await using (var stores = await Stores.OpenAsync(null, path, LoggerFactory.Create(logs.AddTo), CancellationToken.None))
        {
            Assert.True(logs.Contains(LogLevel.Information, $"Upgraded the sqlite database's schema from version 6 to {Server.Storage.Sqlite.SqliteSchema.Steps.Count}"));
            Assert.Equal("from before", (await stores.Docs.GetAsync(Collection.Tasks, "old"))!.Body["name"]!.GetValue<string>());
            await stores.QueueEntries.AddAsync("q", "old", "now");
            Assert.Equal(1, await stores.QueueEntries.CountAsync("q"));
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task Points_stored_one_row_each_by_an_earlier_version_move_into_chunks()
    {
        var dir = Path.Combine(Path.GetTempPath(), "slipway-upgrade-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "old.db");
        var steps = Server.Storage.Sqlite.SqliteSchema.Steps;
        await using (var conn = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            await conn.OpenAsync();
            await SchemaMigrations.ApplyAsync(conn, [.. steps.Take(steps.Count - 1)], CancellationToken.None);
            await using var insert = conn.CreateCommand();
            insert.CommandText = """
                INSERT INTO scalar_series (id, task, metric, variant, count, min_iter, max_iter) VALUES (1, 't', 'loss', 'train', 3, 0, 2000);
                INSERT INTO scalars (series, iter, value, ts) VALUES (1, 0, 0.5, 10), (1, 1, NULL, 11), (1, 2000, 2.5, 12);
                """;
            await insert.ExecuteNonQueryAsync();
        }
        await using (var stores = await Stores.OpenAsync(null, path, CancellationToken.None))
        {
            var series = Assert.Single(await stores.Events.GetSeriesAsync(["t"]));
            Assert.Equal([new ScalarPoint(0, 0.5, 10), new ScalarPoint(1, null, 11), new ScalarPoint(2000, 2.5, 12)], await stores.Events.GetScalarsAsync(series.Id));
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(dir, true);
    }
}
