using System.Text.Json.Nodes;
using Slipway.Server.Storage;

namespace Slipway.Server.Tests.Storage;

/// <summary>What SQLite's planner makes of the queries whose speed depends on the plan (SQLite keeps no statistics here).</summary>
public sealed class QueryPlanTests : IAsyncLifetime
{
    private readonly StoreFixture _store = new();

    public async Task InitializeAsync()
    {
        await _store.InitializeAsync();
        for (var i = 0; i < 200; i++)
        {
            await _store.Docs.InsertAsync(Collection.Tasks, $"t{i:000}", new JsonObject
            {
                ["id"] = $"t{i:000}", ["project"] = $"p{i % 20}", ["user"] = "u", ["status"] = "completed", ["last_update"] = $"2026-12-01T00:{i % 60:00}:00",
            });
        }
    }

    public Task DisposeAsync() => _store.DisposeAsync();

    private static DocFilter Scope() =>
        new AnyOf([new FieldIn("project", [.. Enumerable.Range(0, 20).Select(i => $"p{i}")]), new AllOf([new FieldMissing("project"), new FieldIn("user", ["u"])])]);

    private async Task<string> PlanAsync(DocFilter filter)
    {
        var query = new DocQuery { Take = 50, OrderBy = { new SortKey("last_update", true) } }.Where(filter);
        var parameters = new SqlParameters();
        var dialect = _store.Stores.Database.Dialect;
        await using var conn = await _store.Stores.Database.OpenReadAsync(CancellationToken.None);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"EXPLAIN QUERY PLAN SELECT id FROM {SqlDatabase.Table(Collection.Tasks)}"
                          + DocQuerySql.Where(query, dialect, parameters) + DocQuerySql.OrderAndPage(query, dialect, parameters);
        parameters.ApplyTo(cmd);
        var plan = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            plan.Add(reader.GetString(3));
        return string.Join("; ", plan);
    }

    [Fact]
    public async Task A_members_ordered_list_walks_the_sort_index_instead_of_sorting_every_readable_task()
    {
        // The scope as it is (the reason for Broad): each readable project through its index, then every match sorted.
        Assert.Contains("TEMP B-TREE FOR ORDER BY", await PlanAsync(Scope()));
        var broad = await PlanAsync(new Broad(Scope()));
        Assert.Contains("USING INDEX tasks_last_update", broad);
        Assert.DoesNotContain("TEMP B-TREE", broad);
    }
}
