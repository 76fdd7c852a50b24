using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>What one request may ask of the server is bounded: each limit answers a 400 that names the field.</summary>
public abstract class LimitsTests(string engine) : ServerTests(engine)
{
    // A lookahead keeps the pattern on the backtracking engine, where "(a+)+$" against a run of 'a' not followed by the
    // end takes exponential time; only the match timeout stops it.
    private const string Catastrophic = "(?=(a+)+$)";
    private static readonly string Victim = new string('a', 40) + "!";

    [Fact]
    public async Task A_catastrophic_worker_pattern_is_a_400()
    {
        await Api.OkAsync("workers.register", new JsonObject { ["worker"] = Victim });
        var reply = await Api.CallAsync("workers.get_all", new JsonObject { ["worker_pattern"] = Catastrophic });
        Assert.Equal(400, reply.Status);
        Assert.Contains("too long to match", reply.Message, StringComparison.Ordinal);
        // A pattern that runs away without a lookahead is matched in linear time instead.
        var nested = await Api.OkAsync("workers.get_all", new JsonObject { ["worker_pattern"] = "(a+)+$" });
        Assert.Empty(nested["workers"]!.AsArray());
    }

    [Fact]
    public async Task A_catastrophic_dataset_name_pattern_is_a_400()
    {
        await Api.OkAsync("projects.create", new JsonObject { ["name"] = $"owner/.datasets/{Victim}", ["system_tags"] = new JsonArray("dataset") });
        var reply = await Api.CallAsync("datasets.get_all", new JsonObject { ["name"] = Catastrophic });
        Assert.Equal(400, reply.Status);
    }

    [Fact]
    public async Task A_catastrophic_task_name_pattern_never_ties_up_the_store()
    {
        await CreateTaskAsync(Victim);
        var reply = await Api.CallAsync("tasks.get_all", new JsonObject { ["name"] = Catastrophic });
        if (Engine == "sqlite")
        {
            // SQLite runs the pattern through .NET's engine, whose match timeout ends the statement.
            Assert.Equal(400, reply.Status);
            Assert.Equal("Validation error (the regular expression took too long to match; simplify it)", reply.Message);
        }
        else
        {
            // PostgreSQL's engine does not backtrack on this pattern: it answers, and finds nothing.
            Assert.Equal(200, reply.Status);
            Assert.Empty(reply.Data["tasks"]!.AsArray());
        }
    }

    [Fact]
    public async Task A_pattern_slow_on_either_engine_is_a_400_within_the_deadline()
    {
        // Backreferences put PostgreSQL's engine on its backtracking path too: this one takes it minutes against a long
        // run of 'a' (over 10 s at 3,000 characters, about cubic), so only the statement deadline ends it there, and
        // .NET's match timeout on SQLite. Either way the database is free again for the next request.
        await CreateTaskAsync(new string('a', 2000) + "!");
        var reply = await Api.CallAsync("tasks.get_all", new JsonObject { ["name"] = @"^(.*)(.*)\1\2\1\2$" });
        Assert.Equal(400, reply.Status);
        Assert.Contains("took too long", reply.Message, StringComparison.Ordinal);
        Assert.Single((await Api.OkAsync("tasks.get_all", new JsonObject { ["name"] = "^a+!$" }))["tasks"]!.AsArray());
    }

    [Theory]
    [InlineData("tasks.get_all", "name")]
    [InlineData("projects.get_all", "basename")]
    [InlineData("workers.get_all", "worker_pattern")]
    [InlineData("datasets.get_all", "name")]
    public async Task An_overlong_pattern_is_a_400_naming_the_field(string endpoint, string field)
    {
        var reply = await Api.CallAsync(endpoint, new JsonObject { [field] = new string('a', 1001) });
        Assert.Equal(400, reply.Status);
        Assert.Contains($"'{field}'", reply.Message, StringComparison.Ordinal);
        Assert.Contains("1000", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lists_at_the_limit_work_and_past_it_are_a_400()
    {
        var task = await CreateTaskAsync("listed");
        string[] ids = [.. Enumerable.Range(0, 9_999).Select(i => $"missing-{i}"), task];
        var found = await Api.OkAsync("tasks.get_all", new JsonObject
        {
            ["id"] = Strings(ids),
            ["project"] = Strings(Enumerable.Range(0, 10_000).Select(i => $"p{i}")),
            ["status"] = Strings(Enumerable.Range(1, 9_999).Select(i => $"s{i}").Append("created")),
            ["type"] = Strings(Enumerable.Range(1, 9_999).Select(i => $"t{i}").Append("training")),
            ["tags"] = Strings(Enumerable.Range(0, 1_000).Select(i => $"-tag{i}")),
        });
        Assert.Empty(found["tasks"]!.AsArray());
        var byId = await Api.OkAsync("tasks.get_all", new JsonObject { ["id"] = Strings(ids) });
        Assert.Single(byId["tasks"]!.AsArray());

        var tooMany = await Api.CallAsync("tasks.get_all", new JsonObject { ["id"] = Strings(Enumerable.Range(0, 50_000).Select(i => $"x{i}")) });
        Assert.Equal(400, tooMany.Status);
        Assert.Contains("'id'", tooMany.Message, StringComparison.Ordinal);
        Assert.Contains("10000", tooMany.Message, StringComparison.Ordinal);

        var tags = await Api.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = "tagged", ["type"] = "training", ["tags"] = Strings(Enumerable.Range(0, 20_000).Select(i => $"t{i}")),
        });
        Assert.Equal(400, tags.Status);
        Assert.Contains("'tags'", tags.Message, StringComparison.Ordinal);
    }

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)v)]);

    [Fact]
    public async Task Search_text_and_paging_are_bounded()
    {
        var text = await Api.CallAsync("tasks.get_all", new JsonObject { ["search_text"] = new string('x', 100_000) });
        Assert.Equal(400, text.Status);
        Assert.Contains("'search_text'", text.Message, StringComparison.Ordinal);

        var offset = await Api.CallAsync("tasks.get_all", new JsonObject { ["page"] = int.MaxValue, ["page_size"] = 500 });
        Assert.Equal(400, offset.Status);
        Assert.Contains("page", offset.Message, StringComparison.Ordinal);

        var huge = await Api.OkAsync("tasks.get_all", new JsonObject { ["page"] = 0, ["page_size"] = int.MaxValue });
        Assert.Empty(huge["tasks"]!.AsArray());
    }

    [Theory]
    [InlineData("\\u0000")]
    [InlineData("\\ud800")]
    [InlineData("\\udc00x")]
    public async Task Strings_no_store_can_hold_are_a_400_naming_the_field(string escape)
    {
        var reply = await Api.CallAsync("tasks.create", $"{{\"name\": \"bad{escape}\", \"type\": \"training\"}}");
        Assert.Equal(400, reply.Status);
        Assert.Contains("'name'", reply.Message, StringComparison.Ordinal);
        var nested = await Api.CallAsync("tasks.create", $"{{\"name\": \"ok\", \"type\": \"training\", \"execution\": {{\"parameters\": {{\"k{escape}\": 1}}}}}}");
        Assert.Equal(400, nested.Status);
        Assert.Matches("surrogate|NUL", nested.Message);
        var all = await Api.OkAsync("tasks.get_all", new JsonObject());
        Assert.Empty(all["tasks"]!.AsArray());
    }

    [Fact]
    public async Task Large_batches_of_unknown_length_are_stored_whole()
    {
        var task = await CreateTaskAsync("chunked");
        var lines = string.Join("\n", Enumerable.Range(0, 20_000).Select(i => Scalar(task, "loss", "train", i, i * 0.5).ToJsonString()));
        Assert.True(lines.Length > 2 * 1024 * 1024);
        for (var round = 0; round < 2; round++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "events.add_batch") { Content = new ChunkedContent(Encoding.UTF8.GetBytes(lines), "application/json-lines").Typed() };
            var reply = await Api.SendAsync(request);
            Assert.Equal(200, reply.Status);
            Assert.Equal(20_000, reply.Data["added"]!.GetValue<int>());
        }
    }

    [Fact]
    public async Task A_batch_of_several_parts_is_stored_as_one_with_its_errors_counted()
    {
        var task = await CreateTaskAsync("parts");
        const int events = 45_000;
        var lines = Enumerable.Range(0, events).Select(i => Scalar(task, "loss", "train", i, i % 1000 == 999 ? -1 : i).ToJsonString()).ToList();
        lines.Insert(30_000, $"{{\"type\": \"log\", \"task\": \"{task}\", \"msg\": \"\\u0000\"}}");
        using var request = new HttpRequestMessage(HttpMethod.Post, "events.add_batch")
        {
            Content = new StringContent(string.Join("\n", lines), Encoding.UTF8, "application/json-lines"),
        };
        var reply = await Api.SendAsync(request);
        Assert.Equal(200, reply.Status);
        Assert.Equal(events, reply.Data["added"]!.GetValue<int>());
        Assert.Equal(1, reply.Data["errors"]!.GetValue<int>());

        var doc = await GetTaskAsync(task);
        Assert.Equal(events - 1, doc["last_iteration"]!.GetValue<long>());
        var loss = doc["last_metrics"]!.AsObject().SelectMany(m => m.Value!.AsObject()).Select(v => v.Value!).Single();
        // The last iteration, 44,999, is one of the -1 values.
        Assert.Equal((-1.0, -1.0, events - 2.0, (long)events), (loss["value"]!.GetValue<double>(), loss["min_value"]!.GetValue<double>(),
            loss["max_value"]!.GetValue<double>(), loss["count"]!.GetValue<long>()));
        var histogram = await Api.OkAsync("events.scalar_metrics_iter_histogram", new JsonObject { ["task"] = task, ["samples"] = events });
        var series = histogram.SelectMany(m => m.Value!.AsObject()).Single().Value!;
        Assert.Equal(events, series["x"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_NUL_in_the_query_string_is_a_400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "tasks.get_all?name=a%00b");
        var reply = await Api.SendAsync(request);
        Assert.Equal(400, reply.Status);
    }

    [Fact]
    public async Task Duplicate_keys_are_a_400()
    {
        var reply = await Api.CallAsync("tasks.create", "{\"name\": \"a\", \"name\": \"b\", \"type\": \"training\"}");
        Assert.Equal(400, reply.Status);
        Assert.Contains("name", reply.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\\u0000")]
    [InlineData("\\ud800")]
    public async Task One_bad_event_is_that_events_error_not_the_batchs(string escape)
    {
        var task = await CreateTaskAsync("events");
        var good1 = Scalar(task, "loss", "train", 1, 0.5).ToJsonString();
        var good2 = new JsonObject { ["type"] = "log", ["task"] = task, ["msg"] = "hello", ["level"] = "info", ["timestamp"] = 1_700_000_000_000 }.ToJsonString();
        var badScalar = $"{{\"type\": \"training_stats_scalar\", \"task\": \"{task}\", \"metric\": \"m{escape}\", \"variant\": \"v\", \"iter\": 2, \"value\": 1}}";
        var badLog = $"{{\"type\": \"log\", \"task\": \"{task}\", \"msg\": \"x{escape}\", \"timestamp\": 1700000000001}}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "events.add_batch")
        {
            Content = new StringContent(string.Join("\n", good1, badScalar, good2, badLog), Encoding.UTF8, "application/json-lines"),
        };
        var reply = await Api.SendAsync(request);
        Assert.Equal(200, reply.Status);
        Assert.Equal(2, reply.Data["added"]!.GetValue<int>());
        Assert.Equal(2, reply.Data["errors"]!.GetValue<int>());

        // The same in the "requests" form.
        var body = $"{{\"requests\": [{good1}, {badLog}]}}";
        var viaRequests = await Api.CallAsync("events.add_batch", body, HttpMethod.Post);
        Assert.Equal(200, viaRequests.Status);
        Assert.Equal(1, viaRequests.Data["added"]!.GetValue<int>());
        Assert.Equal(1, viaRequests.Data["errors"]!.GetValue<int>());

        var log = await Api.OkAsync("events.get_task_log", new JsonObject { ["task"] = task });
        Assert.Equal("hello", Assert.Single(log["events"]!.AsArray())!["msg"]!.GetValue<string>());
        var scalars = await Api.OkAsync("events.get_task_events", new JsonObject { ["task"] = task, ["event_type"] = "training_stats_scalar" });
        Assert.All(scalars["events"]!.AsArray(), e => Assert.Equal("loss", e!["metric"]!.GetValue<string>()));
    }
}

/// <summary>A body sent chunked: its length is not known in advance.</summary>
internal sealed class ChunkedContent(byte[] bytes, string contentType) : HttpContent
{
    public ChunkedContent Typed()
    {
        Headers.ContentType = new(contentType);
        return this;
    }

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}

public sealed class LimitsTestsOnSqlite() : LimitsTests("sqlite");

public sealed class LimitsTestsOnPostgres() : LimitsTests("postgres");
