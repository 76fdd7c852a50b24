using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>Bad input gets a 4xx envelope with a clear message: never a 500, a hang or a changed document.</summary>
public abstract class BadInputTests(string engine) : ServerTests(engine)
{
    [Theory]
    [InlineData("tasks.create", "{\"name\": ")]
    [InlineData("tasks.create", "[1, 2]")]
    [InlineData("tasks.create", "{\"name\": 5, \"type\": \"training\"}")]
    [InlineData("tasks.create", "{\"name\": \"x\", \"type\": \"nonsense\"}")]
    [InlineData("tasks.create", "{\"name\": \"x\", \"type\": \"training\", \"bogus_field\": 1}")]
    [InlineData("tasks.create", "{\"name\": \"x\", \"type\": \"training\", \"tags\": [1]}")]
    [InlineData("tasks.create", "{\"name\": \"x\", \"type\": \"training\", \"hyperparams\": {\"A\": 3}}")]
    [InlineData("tasks.get_all", "{\"name\": \"([unclosed\"}")]
    [InlineData("tasks.get_all", "{\"page\": -1, \"page_size\": 5}")]
    [InlineData("tasks.get_all", "{\"page_size\": \"ten\"}")]
    [InlineData("tasks.get_all", "{\"order_by\": [\"..\"]}")]
    [InlineData("tasks.get_by_id", "{}")]
    [InlineData("tasks.get_by_id", "{\"task\": \"does-not-exist\"}")]
    [InlineData("tasks.edit", "{\"task\": \"does-not-exist\", \"name\": \"x\"}")]
    [InlineData("queues.get_by_id", "{\"queue\": \"nope\"}")]
    [InlineData("projects.get_by_id", "{\"project\": \"nope\"}")]
    [InlineData("projects.create", "{\"name\": \"\"}")]
    [InlineData("tasks.edit_hyper_params", "{\"task\": \"x\", \"hyperparams\": \"notalist\"}")]
    [InlineData("tasks.enqueue", "{\"task\": \"x\", \"queue\": \"missing\"}")]
    [InlineData("events.get_task_log", "{\"task\": \"x\", \"scroll_id\": \"!!!\"}")]
    [InlineData("events.scalar_metrics_iter_histogram", "{\"task\": \"x\", \"samples\": 1e400}")]
    public async Task Malformed_requests_get_a_4xx_envelope(string endpoint, string body)
    {
        var reply = await Api.CallAsync(endpoint, body);
        Assert.InRange(reply.Status, 400, 499);
        Assert.Equal(reply.Status, reply.Code);
        Assert.Equal("{}", reply.Envelope["data"]!.ToJsonString());
        Assert.False(string.IsNullOrWhiteSpace(reply.Message));
    }

    [Fact]
    public async Task Deeply_nested_and_oversized_bodies_are_refused()
    {
        var nested = new string('[', 5000) + new string(']', 5000);
        var deep = await Api.CallAsync("tasks.create", $"{{\"name\": \"x\", \"type\": \"training\", \"runtime\": {{\"a\": {nested}}}}}");
        Assert.Equal(400, deep.Status);

        using var request = new HttpRequestMessage(HttpMethod.Post, "events.add_batch")
        {
            Content = new ByteArrayContent(new byte[65 * 1024 * 1024]),
        };
        request.Content.Headers.ContentType = new("application/json-lines");
        // The server answers before reading the body; with 100-continue the client waits for that answer instead of uploading 65 MB.
        request.Headers.ExpectContinue = true;
        var huge = await Api.SendAsync(request);
        Assert.Equal(413, huge.Status);
    }

    [Fact]
    public async Task A_failed_edit_changes_nothing()
    {
        var task = await CreateTaskAsync("t", extra: new JsonObject { ["comment"] = "before" });
        var reply = await Api.CallAsync("tasks.edit", new JsonObject { ["task"] = task, ["comment"] = "after", ["script"] = "not an object" });
        Assert.Equal(400, reply.Status);
        Assert.Equal("before", (await GetTaskAsync(task))["comment"]!.GetValue<string>());
    }

    // Long runs of 'a' not followed by the end: what "(a+)+$" backtracks on, in a name, a worker id and a dataset.
    private static readonly string Victim = new string('a', 40) + "!";

    /// <summary>
    /// Thousands of seeded random requests across every endpoint: each gets an envelope, and none a 5xx or a hang.
    /// One in twenty is hostile by size or content: huge lists, catastrophic patterns, 100 KB search text, offsets
    /// past 32 bits, NUL and lone surrogates, repeated keys. Then two thousand distinct patterns, which every cache of
    /// compiled patterns would keep: the server's heap stays bounded throughout.
    /// </summary>
    [Fact]
    public async Task Random_malformed_requests_never_get_a_5xx_and_memory_stays_bounded()
    {
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var task = await CreateTaskAsync("fuzz-target");
        await CreateTaskAsync(Victim);
        await Api.OkAsync("workers.register", new JsonObject { ["worker"] = Victim });
        await Api.OkAsync("projects.create", new JsonObject { ["name"] = $"owner/.datasets/{Victim}", ["system_tags"] = new JsonArray("dataset") });
        var endpoints = Server.Server.Endpoints.Where(e => e != "queues.delete").ToList();
        var random = new Random(20261126);
        string[] fields = ["task", "tasks", "queue", "project", "name", "id", "ids", "tags", "system_tags", "only_fields", "order_by", "page", "page_size",
            "status", "type", "force", "hyperparams", "configuration", "script", "execution", "metrics", "artifacts", "models", "samples", "key",
            "scroll_id", "batch_size", "requirements", "new_status", "replace_hyperparams", "iters", "event_type", "search_text", "count", "user"];
        var failures = new List<string>();
        for (var i = 0; i < 2500; i++)
        {
            var endpoint = endpoints[random.Next(endpoints.Count)];
            string body;
            if (random.Next(20) == 0)
            {
                (var target, body) = HostileBody(random, fields);
                // Half go where the field is read, so that the limit rather than the unknown-field check answers.
                if (random.Next(2) == 0)
                    endpoint = target;
            }
            else if (random.Next(10) == 0)
            {
                var garbage = new byte[random.Next(1, 64)];
                random.NextBytes(garbage);
                body = Encoding.Latin1.GetString(garbage);
            }
            else
            {
                var obj = new JsonObject();
                for (var f = random.Next(0, 6); f > 0; f--)
                    obj[fields[random.Next(fields.Length)]] = RandomValue(random, task, 0);
                body = obj.ToJsonString();
            }
            Reply reply;
            // A hang is an answer that never comes; 30 s leaves room for a loaded 2-core CI machine running other suites.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                reply = await Api.CallAsync(endpoint, body, random.Next(3) switch { 0 => HttpMethod.Get, 1 => HttpMethod.Post, _ => HttpMethod.Put }, ct: deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                failures.Add($"{endpoint} {Shorten(body)}: no answer within 30 s");
                continue;
            }
            catch (Exception e) when (e is InvalidOperationException or System.Text.Json.JsonException)
            {
                failures.Add($"{endpoint} {Shorten(body)}: not an envelope ({e.Message})");
                continue;
            }
            if (reply.Status >= 500 || reply.Status != reply.Code || reply.Envelope["data"] is not JsonObject)
                failures.Add($"{endpoint} {Shorten(body)}: {reply.Status} {reply.Message}");
        }
        for (var i = 0; i < 2000; i++)
        {
            var (endpoint, field) = PatternFields[i % PatternFields.Length];
            var reply = await Api.CallAsync(endpoint, new JsonObject { [field] = $"^(a|b{i})+c{i}$" });
            if (reply.Status >= 500)
                failures.Add($"{endpoint} pattern {i}: {reply.Status} {reply.Message}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        // With the bounded pattern cache the heap grew by ~40 MB here (alongside other tests), with an unbounded one by
        // ~160 MB per 1,000 patterns.
        var grown = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        Assert.True(grown < 120L << 20, $"the managed heap grew by {grown >> 20} MB over the run");
    }

    private static string Shorten(string body) => body.Length <= 300 ? body : $"{body[..300]}... ({body.Length} chars)";

    private static readonly (string Endpoint, string Field)[] PatternFields =
    [
        ("tasks.get_all", "name"), ("models.get_all", "name"), ("queues.get_all", "name"), ("projects.get_all", "name"),
        ("projects.get_all_ex", "basename"), ("workers.get_all", "worker_pattern"), ("datasets.get_all", "name"), ("users.get_all", "name"),
    ];

    /// <summary>A body hostile by its size or its text, written as JSON text so that it can hold what a JsonNode cannot, and where it bites.</summary>
    private static (string Endpoint, string Body) HostileBody(Random random, string[] fields)
    {
        var (patternEndpoint, patternField) = PatternFields[random.Next(PatternFields.Length)];
        var target = random.Next(3) switch { 0 => "tasks.get_all", 1 => "tasks.create", _ => "events.add_batch" };
        string Field() => fields[random.Next(fields.Length)];
        string Many(int count) => "[" + string.Join(",", Enumerable.Range(0, count).Select(i => $"\"v{i}\"")) + "]";
        return random.Next(9) switch
        {
            2 => (patternEndpoint, $"{{\"{patternField}\": \"{new[] { "(a+)+$", "(?=(a+)+$)", "^(a|aa)+$", "(a|a?)+!$", "(\\\\w+)\\\\1+$" }[random.Next(5)]}\"}}"),
            var kind => (target, kind switch
            {
                0 => $"{{\"{Field()}\": {Many(50_000)}}}",
                1 => $"{{\"tags\": {Many(20_000)}, \"system_tags\": {Many(random.Next(2_000))}}}",
                3 => $"{{\"search_text\": \"{new string('x', 100_000)}\"}}",
                4 => $"{{\"page\": {random.NextInt64(int.MaxValue / 2, int.MaxValue)}, \"page_size\": {random.Next(2, 1_000_000)}}}",
                5 => $"{{\"{Field()}\": \"x\\ud800y\", \"{Field()}\": [\"\\udfff\"]}}",
                6 => $"{{\"{Field()}\": \"a\\u0000b\", \"k\\u0000\": {{\"\\u0000\": 1}}}}",
                7 => $"{{\"{Field()}\": 1, \"name\": \"a\", \"name\": \"b\"}}",
                _ => $"{{\"{Field()}\": \"{new string('a', random.Next(900, 1_200))}\", \"{Field()}\": {{\"\\ud800\": \"v\"}}}}",
            }),
        };
    }

    private static JsonNode? RandomValue(Random random, string task, int depth) => random.Next(depth > 2 ? 9 : 12) switch
    {
        0 => null,
        1 => random.Next(2) == 0,
        2 => random.Next(int.MinValue, int.MaxValue),
        3 => random.NextDouble() * 1e300,
        4 => task,
        5 => new[] { "", "(", "[a-", "*", "\\", "..", "-", "__$not", "__$all", "ünï©ødé", "../../etc/passwd", "\u0000" }[random.Next(12)],
        6 => new string('x', random.Next(0, 3000)),
        7 => "in_progress",
        8 => long.MaxValue,
        9 => new JsonArray(Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomValue(random, task, depth + 1)).ToArray()),
        10 => new JsonObject(Enumerable.Range(0, random.Next(0, 4)).Select(i => KeyValuePair.Create("k" + i, RandomValue(random, task, depth + 1)))),
        _ => new JsonArray(task, null, 3),
    };
}

[Collection(HeapMeasured.Name)]
public sealed class BadInputTestsOnSqlite() : BadInputTests("sqlite");

[Collection(HeapMeasured.Name)]
public sealed class BadInputTestsOnPostgres() : BadInputTests("postgres");

/// <summary>
/// Tests that bound the process's heap growth run alone: with the other collections running beside them, what those
/// happen to hold at the second measurement (a server, a 60 MB batch) counts as growth.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasured
{
    public const string Name = "heap measured";
}
