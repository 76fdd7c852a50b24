using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Storage;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// What the authorization checks cost: two servers in this process, one with roles, tenants and project permissions checked
/// and one without (the same build), each with 20 projects shared with a member for writing and the same tasks. The member
/// calls tasks.get_all (one project, and all it can read; page_size 50) and events.add_batch (100 log lines) on each, in
/// alternating rounds;
/// the figure is the median over the rounds of the throughput with checks over the throughput without. Both sides authenticate (tokens, keys).
/// </summary>
public static class PermissionsScenario
{
    private const int Projects = 20;

    public static async Task RunAsync(BenchContext ctx)
    {
        var taskCount = ctx.Quick ? 2_000 : 20_000;
        var calls = ctx.Quick ? 100 : 400;
        var rounds = ctx.Quick ? 3 : 6;
        foreach (var engine in ctx.EnginesFor("permissions"))
        {
            var engineName = BenchContext.Name(engine);
            await using var checkedServer = await BenchServer.StartAsync(engine, ctx.Postgres, checkPermissions: true);
            await using var openServer = await BenchServer.StartAsync(engine, ctx.Postgres, checkPermissions: false);
            Console.WriteLine($"-- {engineName}: {Fmt.N(taskCount)} tasks in {Projects} projects on each server");
            var sides = new[] { await PrepareAsync(checkedServer, taskCount), await PrepareAsync(openServer, taskCount) };
            var sink = new byte[256 * 1024];
            var getAll = new double[2][];
            var across = new double[2][];
            var ordered = new double[2][];
            var batches = new double[2][];
            for (var side = 0; side < 2; side++)
                (getAll[side], across[side], ordered[side], batches[side]) = (new double[rounds], new double[rounds], new double[rounds], new double[rounds]);
            foreach (var side in sides)
                await MeasureAsync(side, calls / 4, sink);
            for (var round = 0; round < rounds; round++)
            {
                // Alternate which server goes first, so drift in the machine's speed falls on both.
                foreach (var side in round % 2 == 0 ? new[] { 0, 1 } : [1, 0])
                    (getAll[side][round], across[side][round], ordered[side][round], batches[side][round]) = await MeasureAsync(sides[side], calls, sink);
            }
            // Each round's two sides ran back to back, so the figure is the median of the rounds' ratios (the machine's speed
            // drifts between rounds, not within one).
            var (onGet, offGet, getRatio) = (Median(getAll[0]), Median(getAll[1]), MedianRatio(getAll));
            var (onAcross, offAcross, acrossRatio) = (Median(across[0]), Median(across[1]), MedianRatio(across));
            var (onOrdered, offOrdered, orderedRatio) = (Median(ordered[0]), Median(ordered[1]), MedianRatio(ordered));
            var (onBatch, offBatch, batchRatio) = (Median(batches[0]), Median(batches[1]), MedianRatio(batches));
            ctx.Results.Add(new Row("permissions", engineName, "tasks.get_all as a member (1 of 20 shared projects, page_size 50), calls/s, checks on",
                Fmt.N(onGet), Fmt.N(offGet) + " (checks off)", Fmt.Pct(getRatio), "≥ 95 %", getRatio >= 0.95,
                $"median of {rounds} alternating rounds of {calls} sequential calls; rounds on: {string.Join(", ", getAll[0].Select(Fmt.N))}; off: {string.Join(", ", getAll[1].Select(Fmt.N))}"));
            ctx.Results.Add(new Row("permissions", engineName, "tasks.get_all as a member, no project filter (every readable project), calls/s, checks on",
                Fmt.N(onAcross), Fmt.N(offAcross) + " (checks off)", Fmt.Pct(acrossRatio), "≥ 95 %", acrossRatio >= 0.95,
                $"rounds on: {string.Join(", ", across[0].Select(Fmt.N))}; off: {string.Join(", ", across[1].Select(Fmt.N))}"));
            ctx.Results.Add(new Row("permissions", engineName, "tasks.get_all as a member, no project filter, order_by -last_update, calls/s, checks on",
                Fmt.N(onOrdered), Fmt.N(offOrdered) + " (checks off)", Fmt.Pct(orderedRatio), "≥ 95 %", orderedRatio >= 0.95,
                $"rounds on: {string.Join(", ", ordered[0].Select(Fmt.N))}; off: {string.Join(", ", ordered[1].Select(Fmt.N))}"));
            ctx.Results.Add(new Row("permissions", engineName, "events.add_batch as a member (100 log lines), batches/s, checks on",
                Fmt.N(onBatch), Fmt.N(offBatch) + " (checks off)", Fmt.Pct(batchRatio), "≥ 95 %", batchRatio >= 0.95,
                $"rounds on: {string.Join(", ", batches[0].Select(Fmt.N))}; off: {string.Join(", ", batches[1].Select(Fmt.N))}"));
        }
    }

    private sealed record Side(ApiClient Member, string[] Projects, string Task);

    private static async Task<Side> PrepareAsync(BenchServer server, int taskCount)
    {
        using var admin = await server.LoginAsync(maxConnections: 1);
        var user = (await admin.CallAsync("users.get_current_user"))["user"]!;
        var (adminId, company) = (user["id"]!.GetValue<string>(), user["company"]!["id"]!.GetValue<string>());
        var member = (await admin.CallAsync("users.create", new JsonObject { ["name"] = "member", ["role"] = "member" }))["id"]!.GetValue<string>();
        var projects = new string[Projects];
        for (var p = 0; p < Projects; p++)
        {
            projects[p] = (await admin.CallAsync("projects.create", new JsonObject { ["name"] = $"permissions-bench/p{p:00}" }))["id"]!.GetValue<string>();
            await admin.CallAsync("projects.set_permissions", new JsonObject { ["project"] = projects[p], ["user"] = member, ["level"] = "write" });
        }
        var docs = server.Server.Stores.Docs;
        await Parallel.ForAsync(0, taskCount, new ParallelOptions { MaxDegreeOfParallelism = server.Engine == Engine.Sqlite ? 2 : 8 }, async (i, ct) =>
        {
            var id = Guid.NewGuid().ToString("N");
            await docs.InsertAsync(Collection.Tasks, id, GetAllScenario.NewTask(id, i, projects[i % Projects], "completed", adminId, company), ct);
        });
        var keys = (await admin.CallAsync("auth.create_credentials", new JsonObject { ["user"] = member }))["credentials"]!;
        var client = await ApiClient.LoginAsync(server.ApiUrl, keys["access_key"]!.GetValue<string>(), keys["secret_key"]!.GetValue<string>(), maxConnections: 1);
        var task = (await client.CallAsync("tasks.create", new JsonObject { ["name"] = "reporting", ["type"] = "training", ["project"] = projects[0] }))["id"]!.GetValue<string>();
        return new Side(client, projects, task);
    }

    /// <summary>Calls per second of each form over <paramref name="calls"/> sequential calls.</summary>
    private static async Task<(double GetAll, double Across, double Ordered, double Batches)> MeasureAsync(Side side, int calls, byte[] sink)
    {
        var start = Stopwatch.GetTimestamp();
        for (var k = 0; k < calls; k++)
        {
            var body = new JsonObject { ["project"] = new JsonArray(side.Projects[k % Projects]), ["page"] = 0, ["page_size"] = 50 };
            await side.Member.TimedPostAsync("tasks.get_all", Encoding.UTF8.GetBytes(body.ToJsonString()), sink);
        }
        var getAll = calls / Stopwatch.GetElapsedTime(start).TotalSeconds;
        var unfiltered = Encoding.UTF8.GetBytes(new JsonObject { ["page"] = 0, ["page_size"] = 50 }.ToJsonString());
        start = Stopwatch.GetTimestamp();
        for (var k = 0; k < calls; k++)
            await side.Member.TimedPostAsync("tasks.get_all", unfiltered, sink);
        var across = calls / Stopwatch.GetElapsedTime(start).TotalSeconds;
        var newest = Encoding.UTF8.GetBytes(new JsonObject { ["page"] = 0, ["page_size"] = 50, ["order_by"] = new JsonArray("-last_update") }.ToJsonString());
        start = Stopwatch.GetTimestamp();
        for (var k = 0; k < calls; k++)
            await side.Member.TimedPostAsync("tasks.get_all", newest, sink);
        var ordered = calls / Stopwatch.GetElapsedTime(start).TotalSeconds;
        var lines = new StringBuilder();
        for (var i = 0; i < 100; i++)
            lines.Append(new JsonObject { ["type"] = "log", ["task"] = side.Task, ["level"] = "info", ["msg"] = $"line {i}", ["timestamp"] = 1_700_000_000_000 + i }.ToJsonString()).Append('\n');
        var batch = Encoding.UTF8.GetBytes(lines.ToString());
        start = Stopwatch.GetTimestamp();
        for (var k = 0; k < calls; k++)
        {
            var added = await side.Member.PostLinesAsync("events.add_batch", batch);
            if (added["added"]!.GetValue<int>() != 100)
                throw new InvalidOperationException("the member's batch was not stored whole");
        }
        return (getAll, across, ordered, calls / Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static double Median(double[] values) => values.Order().ElementAt(values.Length / 2);

    private static double MedianRatio(double[][] sides) => Median(sides[0].Zip(sides[1], (on, off) => on / off).ToArray());
}
