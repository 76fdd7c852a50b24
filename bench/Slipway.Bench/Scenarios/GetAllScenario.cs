using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Domain.Events;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// tasks.get_all over 100,000 tasks (20 projects × 5 statuses, 1,000 tasks per pair), filtered by one project and
/// one status and ordered by -last_metrics.&lt;md5(loss)&gt;.&lt;md5(train)&gt;.value, page_size 50; beside the same request
/// without order_by. The tasks go in through the server's document store (as tasks.create would store them),
/// with last_metrics built by LastMetrics.Merge.
/// </summary>
public static class GetAllScenario
{
    private static readonly string[] Statuses = [TaskStatuses.Created, TaskStatuses.Queued, TaskStatuses.InProgress, TaskStatuses.Completed, TaskStatuses.Failed];
    private const int Projects = 20;

    public static async Task RunAsync(BenchContext ctx)
    {
        var taskCount = ctx.Quick ? 10_000 : 100_000;
        var warmup = ctx.Quick ? 10 : 20;
        var calls = ctx.Quick ? 50 : 200;
        foreach (var engine in ctx.EnginesFor("get_all"))
        {
            var engineName = BenchContext.Name(engine);
            await using var server = await BenchServer.StartAsync(engine, ctx.Postgres);
            using var client = await server.LoginAsync(maxConnections: 1);
            var user = (await client.CallAsync("users.get_current_user"))["user"]!;
            var (userId, company) = (user["id"]!.GetValue<string>(), user["company"]!["id"]!.GetValue<string>());
            var projects = new List<string>();
            for (var p = 0; p < Projects; p++)
                projects.Add((await client.CallAsync("projects.create", new JsonObject { ["name"] = $"get-all-bench/p{p:00}" }))["id"]!.GetValue<string>());

            Console.WriteLine($"-- {engineName}: inserting {Fmt.N(taskCount)} tasks through the document store");
            var docs = server.Server.Stores.Docs;
            var insertStart = Stopwatch.GetTimestamp();
            var parallel = engine == Engine.Sqlite ? 2 : 16;
            await Parallel.ForAsync(0, taskCount, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
            {
                var id = Guid.NewGuid().ToString("N");
                var doc = NewTask(id, i, projects[i % Projects], Statuses[i / Projects % Statuses.Length], userId, company);
                if (!await docs.InsertAsync(Collection.Tasks, id, doc, ct))
                    throw new InvalidOperationException("duplicate task id");
            });
            var insertSeconds = Stopwatch.GetElapsedTime(insertStart).TotalSeconds;
            Console.WriteLine($"   {insertSeconds:0.0} s ({Fmt.N(taskCount / insertSeconds)} tasks/s)");

            var orderKey = $"-last_metrics.{LastMetrics.Hash("loss")}.{LastMetrics.Hash("train")}.value";
            byte[] Body(int k, bool ordered)
            {
                var body = new JsonObject
                {
                    ["project"] = new JsonArray(projects[k % Projects]),
                    ["status"] = new JsonArray(Statuses[k / Projects % Statuses.Length]),
                    ["page"] = 0,
                    ["page_size"] = 50,
                };
                if (ordered)
                    body["order_by"] = new JsonArray(orderKey);
                return Encoding.UTF8.GetBytes(body.ToJsonString());
            }

            // Check once that the ordered request answers 50 tasks of the right project and status, best value first.
            var check = await client.CallAsync("tasks.get_all", JsonNode.Parse(Body(0, true))!.AsObject());
            var got = check["tasks"]!.AsArray();
            var values = got.Select(t => t!["last_metrics"]![LastMetrics.Hash("loss")]![LastMetrics.Hash("train")]!["value"]!.GetValue<double>()).ToList();
            if (got.Count != 50 || got.Any(t => t!["project"]!.GetValue<string>() != projects[0]) || !values.SequenceEqual(values.OrderDescending()))
                throw new InvalidOperationException("tasks.get_all did not answer 50 tasks of the project, ordered by the metric");
            var responseBytes = Encoding.UTF8.GetByteCount(check.ToJsonString());

            var sink = new byte[256 * 1024];
            var ordered = new Latencies(calls);
            var plain = new Latencies(calls);
            for (var k = 0; k < warmup; k++)
            {
                await client.TimedPostAsync("tasks.get_all", Body(k, true), sink);
                await client.TimedPostAsync("tasks.get_all", Body(k, false), sink);
            }
            var cpu = new CpuSampler();
            for (var k = 0; k < calls; k++)
            {
                // Cycle through the 100 project × status pairs, alternating the two forms.
                ordered.Add(await client.TimedPostAsync("tasks.get_all", Body(k, true), sink));
                plain.Add(await client.TimedPostAsync("tasks.get_all", Body(k, false), sink));
            }

            var cpuUse = CpuSampler.Describe(cpu.Stop()) + "; " + cpu.Gc();
            // The store query alone (no HTTP, no response JSON), same filter and order.
            var store = new Latencies(calls);
            for (var k = 0; k < calls; k++)
            {
                var query = new DocQuery { Take = 50 }
                    .Where(new FieldIn("project", [projects[k % Projects]]))
                    .Where(new FieldIn("status", [Statuses[k / Projects % Statuses.Length]]))
                    .Where(new TagMatch("system_tags", TagQuery.Parse(["-hidden"])));
                query.OrderBy.Add(new SortKey(orderKey[1..], Descending: true));
                var start = Stopwatch.GetTimestamp();
                _ = await docs.FindAsync(Collection.Tasks, query);
                store.Add(Stopwatch.GetTimestamp() - start);
            }

            // How the ordered form scales with the number of matches: one project, every status (5× the matches).
            var wide = new Latencies(calls / 4);
            for (var k = 0; k < calls / 4 + 5; k++)
            {
                var body = new JsonObject
                {
                    ["project"] = new JsonArray(projects[k % Projects]),
                    ["order_by"] = new JsonArray(orderKey),
                    ["page"] = 0,
                    ["page_size"] = 50,
                };
                var ticks = await client.TimedPostAsync("tasks.get_all", Encoding.UTF8.GetBytes(body.ToJsonString()), sink);
                if (k >= 5)
                    wide.Add(ticks);
            }

            var what = $"{Fmt.N(taskCount)} tasks, 1 project + 1 status ({Fmt.N(taskCount / (Projects * Statuses.Length))} matches), page_size 50";
            ctx.Results.Add(new Row("get_all", engineName, $"tasks.get_all ordered by -last_metrics value, p50 ({what})",
                Fmt.Ms(ordered.P50), Fmt.Ms(plain.P50) + " (no order_by)", Fmt.Ratio(ordered.P50 / plain.P50), "< 20 ms", ordered.P50 < 20));
            ctx.Results.Add(new Row("get_all", engineName, "tasks.get_all ordered by -last_metrics value, p99",
                Fmt.Ms(ordered.P99), Fmt.Ms(plain.P99) + " (no order_by)", Fmt.Ratio(ordered.P99 / plain.P99), "< 20 ms", ordered.P99 < 20,
                $"{calls} calls per form; response {Fmt.N(responseBytes)} bytes; inserting the tasks took {insertSeconds:0.0} s; {cpuUse}"));
            ctx.Results.Add(new Row("get_all", engineName, $"diagnostic: ordered, one project and no status filter ({Fmt.N(taskCount / Projects)} matches) p50 / p99",
                $"{Fmt.Ms(wide.P50)} / {Fmt.Ms(wide.P99)}", "-", "-", "-", null));
            ctx.Results.Add(new Row("get_all", engineName, "diagnostic: store query only (IDocumentStore.FindAsync, ordered) p50 / p99",
                $"{Fmt.Ms(store.P50)} / {Fmt.Ms(store.P99)}", "-", "-", "-", null));
        }
    }

    /// <summary>A finished-looking task: five hyperparameters, and last_metrics for loss/train, loss/validation and accuracy/validation.</summary>
    internal static JsonObject NewTask(string id, int i, string project, string status, string user, string company)
    {
        var now = Json.Timestamp(DateTimeOffset.UtcNow.AddSeconds(-i));
        var task = TaskDocuments.New(id, $"experiment {i}", "training", user, company, now);
        task["project"] = project;
        TaskDocuments.SetStatus(task, status, "", "", now);
        var args = new JsonObject();
        foreach (var (name, value) in new[] { ("lr", "0.001"), ("batch_size", "64"), ("epochs", "30"), ("seed", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("optimizer", "adam") })
            args[name] = new JsonObject { ["section"] = "Args", ["name"] = name, ["value"] = value, ["type"] = "str" };
        task["hyperparams"] = new JsonObject { ["Args"] = args };
        task["script"] = new JsonObject { ["binary"] = "python3", ["repository"] = "https://github.com/example/vision.git", ["entry_point"] = "train.py" };
        var random = new Random(i);
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var scalars = new List<ScalarEvent>();
        for (var iter = 0; iter < 3; iter++)
        {
            scalars.Add(new ScalarEvent(id, "loss", "train", new ScalarPoint(iter, random.NextDouble(), ts)));
            scalars.Add(new ScalarEvent(id, "loss", "validation", new ScalarPoint(iter, random.NextDouble(), ts)));
            scalars.Add(new ScalarEvent(id, "accuracy", "validation", new ScalarPoint(iter, random.NextDouble(), ts)));
        }
        // Merge reads last_iteration as a long; TaskDocuments.New stores an int node, which only works once the
        // document has been through JSON (as every stored task has), so round-trip it first.
        task = JsonNode.Parse(task.ToJsonString())!.AsObject();
        LastMetrics.Merge(task, LastMetrics.Summarize(scalars).Values, now);
        return task;
    }
}
