using System.Text.Json.Nodes;
using Slipway.Server.Api;
using Slipway.Server.Core;
using Slipway.Server.Domain.Events;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Server.Tests.Domain;

public sealed class DomainRulesTests
{
    [Theory]
    [InlineData("created", "queued", true)]
    [InlineData("created", "completed", false)]
    [InlineData("in_progress", "completed", true)]
    [InlineData("completed", "failed", false)]
    [InlineData("published", "created", false)]
    [InlineData("published", "published", true)]
    [InlineData("stopped", "queued", true)]
    [InlineData("failed", "queued", true)]
    public void The_state_machine_matches_the_reference(string from, string to, bool allowed) =>
        Assert.Equal(allowed, TaskStatuses.CanChange(from, to));

    [Theory]
    [InlineData(new[] { "a", "b" }, new[] { "b" }, true)]
    [InlineData(new[] { "a", "b" }, new[] { "c" }, false)]
    [InlineData(new[] { "__$all", "a", "b" }, new[] { "a" }, false)]
    [InlineData(new[] { "__$all", "a", "b" }, new[] { "a", "b" }, true)]
    [InlineData(new[] { "-archived" }, new[] { "archived" }, false)]
    [InlineData(new[] { "__$all", "dataset", "__$not", "archived" }, new[] { "dataset" }, true)]
    [InlineData(new[] { "__$all", "dataset", "__$not", "archived" }, new[] { "dataset", "archived" }, false)]
    public void Tag_queries_follow_the_client_operators(string[] query, string[] tags, bool matches) =>
        Assert.Equal(matches, TagQuery.Parse(query).Matches(tags));

    [Fact]
    public void A_null_tag_term_matches_empty_lists()
    {
        Assert.True(TagQuery.Parse([null]).Matches([]));
        Assert.False(TagQuery.Parse([null]).Matches(["a"]));
    }

    [Fact]
    public void Clone_copies_the_definition_but_not_what_the_run_produced()
    {
        var source = TaskDocuments.New("src", "exp", "training", "u", "c", "t0");
        source["system_tags"] = new JsonArray("development", "archived", "keep");
        source["last_iteration"] = 9;
        source["runtime"] = new JsonObject { ["progress"] = "100" };
        source["models"] = new JsonObject { ["input"] = new JsonArray(new JsonObject { ["name"] = "base", ["model"] = "m0" }), ["output"] = new JsonArray(new JsonObject { ["name"] = "w", ["model"] = "m1" }) };
        source["output"] = new JsonObject { ["destination"] = "s3://b", ["model"] = "m1" };
        Json.Set(source, "execution.queue", "q");
        var clone = TaskDocuments.Clone(source, "new", "u2", "c", "t1");
        Assert.Equal(["keep"], clone["system_tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(0, clone["last_iteration"]!.GetValue<int>());
        Assert.Empty(clone["runtime"]!.AsObject());
        Assert.Equal("m0", clone["models"]!["input"]![0]!["model"]!.GetValue<string>());
        Assert.Empty(clone["models"]!["output"]!.AsArray());
        Assert.Equal("""{"destination":"s3://b"}""", clone["output"]!.ToJsonString());
        Assert.Null(clone["execution"]!["queue"]);
        Assert.Equal("created", clone["status"]!.GetValue<string>());
    }

    [Fact]
    public void Pyramid_levels_fit_the_sample_count_and_keep_extremes()
    {
        var points = Enumerable.Range(0, 10_000).Select(i => new ScalarPoint(i, i == 4321 ? -50 : Math.Sin(i), i)).ToList();
        var level = ScalarPyramid.ChooseLevel(0, 9_999, 200);
        var buckets = ScalarPyramid.Aggregate(points).Where(b => b.Level == level).Select(b => b.Bucket).ToList();
        var shown = ScalarPyramid.Points(buckets);
        Assert.InRange(shown.Count, 50, 200);
        Assert.Contains(shown, p => p.Iter == 4321 && p.Value == -50);
        Assert.Equal(shown.OrderBy(p => p.Iter), shown);
    }

    [Fact]
    public void Pyramid_buckets_do_not_depend_on_arrival_order_and_floor_negative_iterations()
    {
        var points = Enumerable.Range(0, 3000).Select(i => new ScalarPoint(i * 7 % 3000, Math.Cos(i), i)).ToList();
        static string Key(IEnumerable<(int Level, ScalarBucket Bucket)> buckets) =>
            string.Join(";", buckets.OrderBy(b => b.Level).ThenBy(b => b.Bucket.Bucket).Select(b => $"{b.Level}/{b.Bucket.Bucket}/{b.Bucket.Count}/{b.Bucket.Min.Iter}/{b.Bucket.Max.Iter}"));
        Assert.Equal(Key(ScalarPyramid.Aggregate(points.OrderBy(p => p.Iter).ToList())), Key(ScalarPyramid.Aggregate(points)));
        Assert.Equal(-1, ScalarPyramid.BucketOf(-1, 0));
        Assert.Equal(-1, ScalarPyramid.BucketOf(-16, 0));
        Assert.Equal(-2, ScalarPyramid.BucketOf(-17, 0));
        Assert.Equal(int.MinValue / 16, ScalarPyramid.BucketOf(int.MinValue, 0));
    }

    [Fact]
    public void Chunks_merge_in_order_overwrite_re_sent_iterations_and_count_new_ones()
    {
        var (first, added) = ScalarChunks.Merge([], [new ScalarPoint(1, 1.0, 10), new ScalarPoint(5, null, 50)]);
        Assert.Equal(2, added);
        var (second, more) = ScalarChunks.Merge(first, [new ScalarPoint(0, 0.5, 1), new ScalarPoint(5, 5.0, 55), new ScalarPoint(9, 9.0, 90)]);
        Assert.Equal(2, more);
        Assert.Equal([new ScalarPoint(0, 0.5, 1), new ScalarPoint(1, 1.0, 10), new ScalarPoint(5, 5.0, 55), new ScalarPoint(9, 9.0, 90)], ScalarChunks.Decode(second));
        Assert.Null(ScalarChunks.Decode(first)[1].Value);
        Assert.Equal((0, 0, -1, -1, -2097152), (ScalarChunks.ChunkOf(0), ScalarChunks.ChunkOf(1023), ScalarChunks.ChunkOf(-1), ScalarChunks.ChunkOf(-1024), ScalarChunks.ChunkOf(int.MinValue)));
    }

    [Fact]
    public void Projections_keep_the_objects_on_a_path_whose_end_is_missing()
    {
        var doc = new JsonObject { ["id"] = "t", ["runtime"] = new JsonObject(), ["script"] = new JsonObject { ["binary"] = "python", ["diff"] = "x" }, ["tags"] = new JsonArray("a") };
        Assert.Equal("""{"id":"t","runtime":{},"script":{"binary":"python"},"tags":["a"]}""",
            Json.Project(doc, ["runtime.version", "script.binary", "tags", "missing.field", "tags.inner"]).ToJsonString());
    }

    [Fact]
    public void Query_strings_nest_dotted_keys_and_type_values()
    {
        var body = new JsonObject();
        RequestBody.MergeQuery(body, new Dictionary<string, Microsoft.Extensions.Primitives.StringValues>
        {
            ["expiration_sec"] = "60", ["a.b"] = "true", ["list"] = new(["x", "y"]), ["s"] = "text",
        });
        Assert.Equal("""{"expiration_sec":60,"a":{"b":true},"list":["x","y"],"s":"text"}""", body.ToJsonString());
    }

    [Fact]
    public void Events_are_normalized_and_bad_ones_explain_why()
    {
        var scalar = EventParser.Parse("""{"type":"training_stats_scalar","task":"t","iter":"5","value":1.5}"""u8, "w", 42);
        Assert.Equal(new ScalarEvent("t", "", "", new ScalarPoint(5, 1.5, 42)), scalar.Scalar);
        var log = EventParser.Parse("""{"type":"log","task":"t","msg":"hi","allow_locked":false}"""u8, "host-1", 42).Other!;
        Assert.Null(log.EventId);
        Assert.Equal("host-1", JsonNode.Parse(log.Doc)!["worker"]!.GetValue<string>());
        var plot = EventParser.Parse("""{"type":"plot","task":"t","iter":1,"metric":"m","variant":"v","plot_str":"{}"}"""u8, null, 42).Other!;
        Assert.Equal(EventParser.Id("t", 1, "m", "v", ""), plot.EventId);
        var nan = EventParser.Parse("""{"type":"training_stats_scalar","task":"t","value":NaN,"metric":"NaN in a string"}"""u8, null, 1).Scalar!.Value;
        Assert.Null(nan.Point.Value);
        Assert.Equal("NaN in a string", nan.Metric);
        Assert.Contains("value", Assert.Throws<ApiException>(() => EventParser.Parse("""{"type":"training_stats_scalar","task":"t"}"""u8, null, 1)).Message);
        Assert.Contains("type", Assert.Throws<ApiException>(() => EventParser.Parse("""{"type":"nope","task":"t"}"""u8, null, 1)).Message);
    }
}
