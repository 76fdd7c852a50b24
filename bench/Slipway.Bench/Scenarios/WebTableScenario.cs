using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Server.Domain.Events;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// The web UI's experiments table over a project of 100,000 tasks: the server time of the page's first render (the
/// whole HTML of GET /projects/{id}/experiments, signed in, which loads the first page of 50 rows, the total and the
/// users), and of the same page sorted by a metric column (?sort=-last_metrics.…, the query a click on the column's
/// header runs). Baseline: the same page for a project of 100 tasks, in the same server.
/// </summary>
public static partial class WebTableScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var taskCount = ctx.Quick ? 10_000 : 100_000;
        var calls = ctx.Quick ? 10 : 40;
        foreach (var engine in ctx.EnginesFor("web-table"))
        {
            var engineName = BenchContext.Name(engine);
            await using var server = await BenchServer.StartAsync(engine, ctx.Postgres);
            using var client = await server.LoginAsync(maxConnections: 1);
            var user = (await client.CallAsync("users.get_current_user"))["user"]!;
            var (userId, company) = (user["id"]!.GetValue<string>(), user["company"]!["id"]!.GetValue<string>());
            var big = (await client.CallAsync("projects.create", new JsonObject { ["name"] = "web-bench/big" }))["id"]!.GetValue<string>();
            var small = (await client.CallAsync("projects.create", new JsonObject { ["name"] = "web-bench/small" }))["id"]!.GetValue<string>();
            string[] statuses = [TaskStatuses.Created, TaskStatuses.Queued, TaskStatuses.InProgress, TaskStatuses.Completed, TaskStatuses.Failed];

            Console.WriteLine($"-- {engineName}: inserting {Fmt.N(taskCount)} + 100 tasks through the document store");
            var docs = server.Server.Stores.Docs;
            await Parallel.ForAsync(0, taskCount + 100, new ParallelOptions { MaxDegreeOfParallelism = engine == Engine.Sqlite ? 2 : 16 }, async (i, ct) =>
            {
                var id = Guid.NewGuid().ToString("N");
                var doc = GetAllScenario.NewTask(id, i, i < taskCount ? big : small, statuses[i % statuses.Length], userId, company);
                await docs.InsertAsync(Collection.Tasks, id, doc, ct);
            });

            using var browser = await SignInAsync(server);
            var sort = $"-last_metrics.{LastMetrics.Hash("loss")}.{LastMetrics.Hash("train")}.value";
            async Task<(Latencies, string)> MeasureAsync(string path)
            {
                for (var k = 0; k < 3; k++)
                    await browser.GetStringAsync(path);
                var latencies = new Latencies(calls);
                var html = "";
                for (var k = 0; k < calls; k++)
                {
                    var start = Stopwatch.GetTimestamp();
                    html = await browser.GetStringAsync(path);
                    latencies.Add(Stopwatch.GetTimestamp() - start);
                }
                return (latencies, html);
            }

            // The first sort by a metric column builds that column's indexes (once per column and database).
            var firstSort = Stopwatch.StartNew();
            await browser.GetStringAsync($"projects/{big}/experiments?sort={sort}");
            var firstSortMs = firstSort.Elapsed.TotalMilliseconds;
            var (first, firstHtml) = await MeasureAsync($"projects/{big}/experiments");
            var (sorted, sortedHtml) = await MeasureAsync($"projects/{big}/experiments?sort={sort}");
            var (baseline, _) = await MeasureAsync($"projects/{small}/experiments");
            var (baselineSorted, _) = await MeasureAsync($"projects/{small}/experiments?sort={sort}");
            Check(firstHtml, taskCount);
            Check(sortedHtml, taskCount);
            var values = MetricCell().Matches(sortedHtml).Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            if (values.Count != 50 || !values.SequenceEqual(values.OrderDescending()))
                throw new InvalidOperationException($"the sorted page does not show 50 loss/train values, highest first ({values.Count} found)");

            // Where the time goes: the store queries the page makes, alone.
            async Task<string> StoreAsync(Func<Task> query)
            {
                await query();
                var latencies = new Latencies(10);
                for (var k = 0; k < 10; k++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await query();
                    latencies.Add(Stopwatch.GetTimestamp() - start);
                }
                return Fmt.Ms(latencies.P50);
            }
            DocQuery Query(bool tags, string? order)
            {
                var q = new DocQuery().Where(new FieldIn("project", [big]));
                if (tags)
                    q.Where(new TagMatch("system_tags", TagQuery.Parse(["-archived"]))).Where(new TagMatch("system_tags", TagQuery.Parse(["-hidden"])));
                if (order is not null)
                {
                    q.OrderBy.Add(new SortKey(order, Descending: true));
                    q.Take = 50;
                }
                return q;
            }
            var diagnostics = string.Join("; ", new[]
            {
                "count by project " + await StoreAsync(() => docs.CountAsync(Collection.Tasks, Query(false, null))),
                "count by project and tags " + await StoreAsync(() => docs.CountAsync(Collection.Tasks, Query(true, null))),
                "the same up to 10,001 " + await StoreAsync(() => docs.CountUpToAsync(Collection.Tasks, Query(true, null), 10_001)),
                "first 50 by last_update " + await StoreAsync(() => docs.FindAsync(Collection.Tasks, Query(true, "last_update"))),
                "first 50 by the metric " + await StoreAsync(() => docs.FindAsync(Collection.Tasks, Query(true, sort[1..]))),
                "the page's tasks.get_all_ex over HTTP " + await StoreAsync(() => client.CallAsync("tasks.get_all_ex", new JsonObject
                {
                    ["project"] = new JsonArray(big), ["page"] = 0, ["page_size"] = 50, ["order_by"] = new JsonArray("-last_update"),
                    ["system_tags"] = new JsonArray("__$all", "-archived", "-dataset"),
                    ["only_fields"] = new JsonArray("id", "name", "status", "type", "user", "tags", "started", "completed", "last_update", "last_iteration", "last_metrics", "hyperparams", "project"),
                })),
            });
            ctx.Results.Add(new Row("web-table", engineName, "diagnostic: store queries alone, p50", diagnostics, "-", "-", "-", null));

            var what = $"{Fmt.N(taskCount)} tasks in the project, 50 rows";
            ctx.Results.Add(new Row("web-table", engineName, $"experiments page first render, server time p50 ({what})",
                Fmt.Ms(first.P50), Fmt.Ms(baseline.P50) + " (100 tasks)", Fmt.Ratio(first.P50 / baseline.P50), "< 300 ms", first.P50 < 300));
            ctx.Results.Add(new Row("web-table", engineName, "experiments page first render, p99",
                Fmt.Ms(first.P99), Fmt.Ms(baseline.P99) + " (100 tasks)", Fmt.Ratio(first.P99 / baseline.P99), "< 300 ms", first.P99 < 300,
                $"{calls} renders; HTML {Fmt.N(firstHtml.Length)} chars"));
            ctx.Results.Add(new Row("web-table", engineName, "experiments page sorted by a metric column, p50",
                Fmt.Ms(sorted.P50), Fmt.Ms(baselineSorted.P50) + " (100 tasks)", Fmt.Ratio(sorted.P50 / baselineSorted.P50), "< 300 ms", sorted.P50 < 300));
            ctx.Results.Add(new Row("web-table", engineName, "experiments page sorted by a metric column, p99",
                Fmt.Ms(sorted.P99), Fmt.Ms(baselineSorted.P99) + " (100 tasks)", Fmt.Ratio(sorted.P99 / baselineSorted.P99), "< 300 ms", sorted.P99 < 300));
            ctx.Results.Add(new Row("web-table", engineName, "diagnostic: the first sort by that column (builds its indexes)", Fmt.Ms(firstSortMs), "-", "-", "-", null));
        }
    }

    private static void Check(string html, int taskCount)
    {
        var rows = Regex.Count(html, "data-task=\"");
        // The page counts exactly up to 10,000 and then says "10,000+".
        var total = taskCount > 10_000 ? "10,000+" : taskCount.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        if (rows != 50 || !WebUtility.HtmlDecode(html).Contains(total + " experiments", StringComparison.Ordinal))
            throw new InvalidOperationException($"the page shows {rows} rows, not 50 of {taskCount}");
    }

    /// <summary>A client with the web UI's session cookie, signed in through the sign-in form.</summary>
    private static async Task<HttpClient> SignInAsync(BenchServer server)
    {
        var cookies = new CookieContainer();
        var http = new HttpClient(new SocketsHttpHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = server.Server.WebUrl };
        var admin = server.Server.NewAdmin!;
        // The form carries an antiforgery token (with its cookie), as a browser that opened the sign-in page has.
        var page = await http.GetStringAsync("login");
        var token = AntiforgeryField().Match(page) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidOperationException("the sign-in page has no antiforgery token");
        using var form = new FormUrlEncodedContent([new("access_key", admin.AccessKey), new("secret_key", admin.SecretKey), new("return", "/"), new("__RequestVerificationToken", token)]);
        using var answer = await http.PostAsync("auth/login", form);
        if (answer.StatusCode != HttpStatusCode.Redirect || answer.Headers.Location?.OriginalString.StartsWith("/login", StringComparison.Ordinal) != false)
            throw new InvalidOperationException($"sign-in answered {(int)answer.StatusCode} to {answer.Headers.Location}");
        return http;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    // The metric column's cells: the sort adds the column, whose cells are the last cells of each row.
    [GeneratedRegex("<td class=\"num\">([0-9.eE-]+)</td></tr>")]
    private static partial Regex MetricCell();
}
