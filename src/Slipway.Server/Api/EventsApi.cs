using System.Buffers.Text;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Events;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>events.*: ingestion of the five event types, and the reads behind the SDK getters and the UI charts.</summary>
public sealed class EventsApi(IDocumentStore docs, AccessControl access, IEventStore events, EventIngestion ingestion, ScalarHistogram histogram, ServerMetrics metrics)
{
    private const int MaxBatch = 10_000;

    public void Map(RpcRouter router)
    {
        router.Add("events.add", Add, null);
        router.Add("events.add_batch", AddBatch, null);
        router.Add("events.get_task_log", GetTaskLog, "task order navigate_earlier batch_size from_timestamp scroll_id refresh");
        router.Add("events.get_task_events", GetTaskEvents, "task event_type order batch_size scroll_id metrics model_events iters");
        router.Add("events.scalar_metrics_iter_histogram", ScalarIterHistogram, "task samples key metrics model_events from_iter to_iter timestamps");
        router.Add("events.multi_task_scalar_metrics_iter_histogram", MultiTaskHistogram, "tasks samples key metrics model_events from_iter to_iter timestamps");
        router.Add("events.get_task_plots", GetTaskPlots, "task iters scroll_id metrics no_scroll model_events");
        router.Add("events.get_multi_task_plots", GetTaskPlots, "tasks iters scroll_id metrics no_scroll model_events last_iters_per_task_metric");
        router.Add("events.debug_images", DebugImages, "metrics iters navigate_earlier refresh scroll_id model_events");
        router.Add("events.get_task_single_value_metrics", SingleValues, "tasks model_events");
        router.Add("events.get_scalar_metrics_and_variants", MetricsAndVariants, "task model_events");
        router.Add("events.get_task_metrics", TaskMetrics, "tasks event_type model_events");
        router.Add("events.get_task_latest_scalar_values", LatestScalarValues, "task");
        router.Add("events.delete_for_task", DeleteForTask, "task allow_locked model");
    }

    private async ValueTask<JsonNode?> Add(RpcCall call)
    {
        var result = await ingestion.AddAsync([Encoding.UTF8.GetBytes(call.Body.ToJsonString())], call.Worker, MayWrite(call), call.Aborted);
        metrics.RecordEvents(result.Added);
        if (result.Errors > 0)
        {
            var reason = result.ErrorsInfo.Keys.First();
            throw reason.StartsWith("Invalid task id", StringComparison.Ordinal) ? new ApiException(400, 101, reason) : ApiException.Validation(reason);
        }
        return null;
    }

    private async ValueTask<JsonNode?> AddBatch(RpcCall call)
    {
        IEnumerable<ReadOnlyMemory<byte>> lines;
        var refused = new Dictionary<string, int>();
        if (call.Lines is { } jsonLines)
            lines = jsonLines;
        else if (call.Array("requests") is { } requests)
            lines = requests.Select(r => Line(r, refused)).OfType<ReadOnlyMemory<byte>>().ToList();
        else
            throw ApiException.Validation("events.add_batch expects json-lines (one event per line)");
        var result = await ingestion.AddAsync(lines, call.Worker, MayWrite(call), call.Aborted);
        foreach (var (reason, count) in refused)
            result.ErrorsInfo[reason] = result.ErrorsInfo.GetValueOrDefault(reason) + count;
        result = result with { Errors = result.Errors + refused.Values.Sum() };
        metrics.RecordEvents(result.Added);
        return ToJson(result);
    }

    private Func<Collection, StoredDoc, ValueTask<bool>> MayWrite(RpcCall call) =>
        async (collection, doc) => await access.LevelAsync(call.Caller, collection, doc.Body, call.Aborted) >= Level.Write;

    // An event of the "requests" form that cannot be written back as text (a lone surrogate) is that event's error.
    private static ReadOnlyMemory<byte>? Line(JsonNode? request, Dictionary<string, int> refused)
    {
        try
        {
            StorableText.CheckTree(request, "");
            return Encoding.UTF8.GetBytes(request?.ToJsonString() ?? "null");
        }
        catch (ApiException e)
        {
            refused[e.Message] = refused.GetValueOrDefault(e.Message) + 1;
            return null;
        }
    }

    /// <summary>
    /// Console output, paged by timestamp. By default the newest batch is returned (navigate_earlier),
    /// in ascending order unless order is "desc"; scroll_id continues in the same direction.
    /// </summary>
    private async ValueTask<JsonNode?> GetTaskLog(RpcCall call)
    {
        var task = await RequireOwnerAsync(call, call.RequireString("task"));
        var batch = BatchSize(call, 500);
        var earlier = call.Bool("navigate_earlier", true);
        var cursor = Cursor.Decode(call.String("scroll_id"));
        if (cursor is null && call.Long("from_timestamp") is { } from)
            cursor = (from, earlier ? long.MinValue : long.MaxValue);
        var found = await events.GetEventsAsync(new EventQuery([task], [EventParser.Log])
        {
            Descending = earlier,
            After = cursor,
            Limit = batch,
        }, call.Aborted);
        var next = found.Count > 0 ? Cursor.Encode(found[^1].Timestamp, found[^1].Seq) : call.String("scroll_id");
        var ordered = (call.String("order") ?? "asc") == "desc" ? found.OrderByDescending(e => (e.Timestamp, e.Seq)) : found.OrderBy(e => (e.Timestamp, e.Seq));
        var list = new JsonArray(ordered.Select(e => (JsonNode)JsonNode.Parse(e.Doc)!).ToArray());
        return new JsonObject
        {
            ["events"] = list,
            ["returned"] = list.Count,
            ["total"] = await events.CountEventsAsync([task], [EventParser.Log], call.Aborted),
            ["scroll_id"] = next,
        };
    }

    private async ValueTask<JsonNode?> GetTaskEvents(RpcCall call)
    {
        var task = await RequireOwnerAsync(call, call.RequireString("task"));
        var type = call.String("event_type");
        var batch = BatchSize(call, 500);
        var descending = call.String("order") == "desc";
        if (type == EventParser.Scalar)
            return await ScalarEventsAsync(task, batch, call);
        var types = type is null ? EventParser.Types.Where(t => t != EventParser.Scalar).ToList() : [type];
        var found = await events.GetEventsAsync(new EventQuery([task], types)
        {
            Descending = descending,
            After = Cursor.Decode(call.String("scroll_id")),
            Limit = batch,
            Metrics = MetricFilter(call.Array("metrics")),
        }, call.Aborted);
        var list = new JsonArray(found.Select(e => (JsonNode)JsonNode.Parse(e.Doc)!).ToArray());
        return new JsonObject
        {
            ["events"] = list,
            ["returned"] = list.Count,
            ["total"] = await events.CountEventsAsync([task], types, call.Aborted),
            ["scroll_id"] = found.Count > 0 ? Cursor.Encode(found[^1].Timestamp, found[^1].Seq) : call.String("scroll_id"),
        };
    }

    /// <summary>Scalar events rebuilt from their series, paged by a (series index, iteration) cursor.</summary>
    private async Task<JsonNode> ScalarEventsAsync(string task, int batch, RpcCall call)
    {
        var series = await events.GetSeriesAsync([task], call.Aborted);
        var (startSeries, startIter) = Cursor.Decode(call.String("scroll_id")) ?? (0, long.MinValue);
        var list = new JsonArray();
        long lastSeries = startSeries, lastIter = startIter;
        for (var i = (int)startSeries; i < series.Count && list.Count < batch; i++)
        {
            foreach (var p in await events.GetScalarsAsync(series[i].Id, call.Aborted))
            {
                if (i == startSeries && p.Iter <= startIter)
                    continue;
                if (list.Count >= batch)
                    break;
                list.Add(new JsonObject
                {
                    ["type"] = EventParser.Scalar, ["task"] = task, ["metric"] = series[i].Metric, ["variant"] = series[i].Variant,
                    ["iter"] = p.Iter, ["value"] = p.Value, ["timestamp"] = p.Timestamp,
                });
                (lastSeries, lastIter) = (i, p.Iter);
            }
        }
        return new JsonObject
        {
            ["events"] = list,
            ["returned"] = list.Count,
            ["total"] = series.Sum(s => s.Count),
            ["scroll_id"] = Cursor.Encode(lastSeries, lastIter),
        };
    }

    private async ValueTask<JsonNode?> ScalarIterHistogram(RpcCall call)
    {
        var task = await RequireOwnerAsync(call, call.RequireString("task"));
        return await HistogramAsync([task], byTask: false, call, (_, metric, variant, points) => points);
    }

    /// <summary>The comparison view: per metric and variant, one series per task, named after the task.</summary>
    private async ValueTask<JsonNode?> MultiTaskHistogram(RpcCall call)
    {
        var ids = call.StringList("tasks") ?? throw ApiException.MissingField("tasks");
        var found = await docs.FindAsync(call.Bool("model_events") ? Collection.Models : Collection.Tasks, new DocQuery().Where(new FieldIn("id", ids)), call.Aborted);
        if (found.Count == 0)
            throw ApiException.InvalidTaskId(string.Join(",", ids));
        var names = found.ToDictionary(t => t.Id, t => Json.GetString(t.Body, "name") ?? t.Id);
        var result = new JsonObject();
        var byTask = (JsonObject)(await HistogramAsync(found.Select(t => t.Id).ToList(), byTask: true, call, (task, metric, variant, points) =>
        {
            points["name"] = names[task];
            points["task"] = task;
            return points;
        }))!;
        // Reshape {task: {metric: {variant: series}}} into {metric: {variant: {task: series}}}.
        foreach (var (task, metricsNode) in byTask)
        {
            foreach (var (metric, variantsNode) in (JsonObject)metricsNode!)
            {
                if (result[metric] is not JsonObject variants)
                    result[metric] = variants = [];
                foreach (var (variant, seriesNode) in (JsonObject)variantsNode!)
                {
                    if (variants[variant] is not JsonObject tasks)
                        variants[variant] = tasks = [];
                    tasks[task] = seriesNode!.DeepClone();
                }
            }
        }
        return result;
    }

    /// <summary>
    /// Per metric and variant, the series as x and y (downsampled to about <c>samples</c> points). Two Slipway additions,
    /// ignored by ClearML clients that do not send them: <c>from_iter</c>/<c>to_iter</c> limit the series to an iteration
    /// range (a zoomed chart reads finer points there), and <c>timestamps</c> adds each point's time (ms) next to x.
    /// </summary>
    private async Task<JsonNode?> HistogramAsync(IReadOnlyList<string> tasks, bool byTask, RpcCall call, Func<string, string, string, JsonObject, JsonObject> shape)
    {
        var samples = Math.Clamp(call.Int("samples") ?? ScalarHistogram.DefaultSamples, 2, 100_000);
        var key = call.String("key") ?? "iter";
        if (key is not ("iter" or "timestamp" or "iso_time"))
            throw ApiException.Validation("key must be iter, timestamp or iso_time");
        var wanted = MetricFilter(call.Array("metrics"));
        var fromIter = call.Long("from_iter") ?? long.MinValue;
        var toIter = call.Long("to_iter") ?? long.MaxValue;
        if (fromIter > toIter)
            throw ApiException.Validation("from_iter must not be greater than to_iter");
        var withTimestamps = call.Bool("timestamps");
        var series = await events.GetSeriesAsync(tasks, call.Aborted);
        var result = new JsonObject();
        foreach (var s in series)
        {
            if (wanted is not null && (!wanted.TryGetValue(s.Metric, out var variants) || (variants.Count > 0 && !variants.Contains(s.Variant))))
                continue;
            var points = await histogram.PointsAsync(s, samples, fromIter, toIter, call.Aborted);
            var x = new JsonArray();
            var y = new JsonArray();
            var timestamps = withTimestamps ? new JsonArray() : null;
            foreach (var p in points)
            {
                timestamps?.Add(p.Timestamp);
                x.Add(key switch
                {
                    "timestamp" => JsonValue.Create(p.Timestamp),
                    "iso_time" => JsonValue.Create(Json.Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(p.Timestamp))),
                    _ => JsonValue.Create(p.Iter),
                });
                y.Add(p.Value is { } v && double.IsFinite(v) ? JsonValue.Create(v) : null);
            }
            var container = byTask ? (JsonObject)(result[s.Task] ??= new JsonObject()) : result;
            if (container[s.Metric] is not JsonObject byVariant)
                container[s.Metric] = byVariant = [];
            var shaped = new JsonObject { ["name"] = s.Variant, ["x"] = x, ["y"] = y };
            if (timestamps is not null)
                shaped["timestamps"] = timestamps;
            byVariant[s.Variant] = shape(s.Task, s.Metric, s.Variant, shaped);
        }
        return result;
    }

    private async ValueTask<JsonNode?> GetTaskPlots(RpcCall call)
    {
        var tasks = call.StringList("tasks") ?? [call.RequireString("task")];
        foreach (var task in tasks)
            await RequireOwnerAsync(call, task);
        var iters = call.Int("iters");
        var found = await events.GetEventsAsync(new EventQuery(tasks, ["plot"])
        {
            Descending = true,
            Metrics = MetricFilter(call.Array("metrics")),
            Limit = 10_000,
        }, call.Aborted);
        IEnumerable<StoredEvent> kept = found;
        if (iters is > 0)
        {
            // The newest N iterations per metric.
            kept = found.GroupBy(e => (e.Task, e.Metric)).SelectMany(g =>
            {
                var latest = g.Select(e => e.Iter).Distinct().OrderDescending().Take(iters.Value).ToHashSet();
                return g.Where(e => latest.Contains(e.Iter));
            });
        }
        var plots = new JsonArray(kept.OrderBy(e => (e.Metric, e.Variant, e.Iter)).Select(e => (JsonNode)JsonNode.Parse(e.Doc)!).ToArray());
        return new JsonObject { ["plots"] = plots, ["returned"] = plots.Count, ["total"] = plots.Count, ["scroll_id"] = null };
    }

    private async ValueTask<JsonNode?> DebugImages(RpcCall call)
    {
        var requested = call.Array("metrics") ?? throw ApiException.MissingField("metrics");
        var iters = call.Int("iters") ?? 1;
        var result = new JsonArray();
        foreach (var item in requested.OfType<JsonObject>())
        {
            var task = RpcCall.AsString(item["task"], "task") ?? throw ApiException.MissingField("task");
            await RequireOwnerAsync(call, task);
            var metric = RpcCall.AsString(item["metric"], "metric");
            var variants = RpcCall.AsStringList(item["variants"], "variants") ?? [];
            var found = await events.GetEventsAsync(new EventQuery([task], ["training_debug_image"])
            {
                Descending = true,
                Metrics = metric is null ? null : new Dictionary<string, IReadOnlyList<string>> { [metric] = variants },
                Limit = 10_000,
            }, call.Aborted);
            var iterations = new JsonArray(found.GroupBy(e => e.Iter).OrderByDescending(g => g.Key).Take(iters)
                .Select(g => (JsonNode)new JsonObject
                {
                    ["iter"] = g.Key,
                    ["events"] = new JsonArray(g.OrderBy(e => e.Variant).Select(e => (JsonNode)JsonNode.Parse(e.Doc)!).ToArray()),
                }).ToArray());
            result.Add(new JsonObject { ["task"] = task, ["metric"] = metric, ["iterations"] = iterations });
        }
        return new JsonObject { ["metrics"] = result, ["scroll_id"] = null };
    }

    /// <summary>Single values are scalars reported at the minimal iteration (the SDK's report_single_value).</summary>
    private async ValueTask<JsonNode?> SingleValues(RpcCall call)
    {
        var ids = call.StringList("tasks") ?? throw ApiException.MissingField("tasks");
        var result = new JsonArray();
        var series = await events.GetSeriesAsync(ids, call.Aborted);
        foreach (var task in ids)
        {
            var values = new JsonArray();
            foreach (var s in series.Where(s => s.Task == task && s.MinIter == int.MinValue))
            {
                var point = (await events.GetScalarsAsync(s.Id, call.Aborted)).FirstOrDefault(p => p.Iter == int.MinValue);
                values.Add(new JsonObject { ["metric"] = s.Metric, ["variant"] = s.Variant, ["value"] = point.Value, ["timestamp"] = point.Timestamp });
            }
            result.Add(new JsonObject { ["task"] = task, ["values"] = values });
        }
        return new JsonObject { ["tasks"] = result };
    }

    private async ValueTask<JsonNode?> MetricsAndVariants(RpcCall call)
    {
        var task = await RequireOwnerAsync(call, call.RequireString("task"));
        var result = new JsonObject();
        foreach (var s in await events.GetSeriesAsync([task], call.Aborted))
        {
            if (result[s.Metric] is not JsonObject variants)
                result[s.Metric] = variants = [];
            variants[s.Variant] = new JsonObject { ["name"] = s.Variant };
        }
        return new JsonObject { ["metrics"] = result };
    }

    private async ValueTask<JsonNode?> TaskMetrics(RpcCall call)
    {
        var ids = call.StringList("tasks") ?? throw ApiException.MissingField("tasks");
        var type = call.String("event_type");
        var result = new JsonArray();
        foreach (var task in ids)
        {
            var names = new SortedSet<string>(StringComparer.Ordinal);
            if (type is null or EventParser.Scalar)
                names.UnionWith((await events.GetSeriesAsync([task], call.Aborted)).Select(s => s.Metric));
            if (type is not EventParser.Scalar)
            {
                var types = type is null ? EventParser.Types.Where(t => t is not (EventParser.Scalar or EventParser.Log)).ToList() : [type];
                names.UnionWith((await events.GetEventsAsync(new EventQuery([task], types) { Limit = 10_000 }, call.Aborted)).Select(e => e.Metric));
            }
            result.Add(new JsonObject { ["task"] = task, ["metrics"] = new JsonArray(names.Select(n => (JsonNode)n).ToArray()) });
        }
        return new JsonObject { ["metrics"] = result };
    }

    private async ValueTask<JsonNode?> LatestScalarValues(RpcCall call)
    {
        var task = await docs.GetAsync(Collection.Tasks, call.RequireString("task"), call.Aborted) ?? throw ApiException.InvalidTaskId(call.String("task")!);
        var metrics = new JsonArray();
        foreach (var (_, variants) in task.Body["last_metrics"] as JsonObject ?? [])
        {
            foreach (var (_, value) in variants as JsonObject ?? [])
            {
                if (value is JsonObject v)
                    metrics.Add(new JsonObject { ["metric"] = v["metric"]?.DeepClone(), ["variant"] = v["variant"]?.DeepClone(), ["value"] = v["value"]?.DeepClone() });
            }
        }
        return new JsonObject { ["metrics"] = metrics };
    }

    private async ValueTask<JsonNode?> DeleteForTask(RpcCall call)
    {
        var task = await RequireOwnerAsync(call, call.RequireString("task"));
        await events.DeleteTaskEventsAsync(task, call.Aborted);
        return new JsonObject { ["deleted"] = true };
    }

    /// <summary>The task (or, with model_events, the model) whose events are asked for.</summary>
    private async Task<string> RequireOwnerAsync(RpcCall call, string id) => call.Bool("model_events")
        ? (await docs.GetAsync(Collection.Models, id, call.Aborted))?.Id ?? throw ApiException.InvalidModelId(id)
        : (await docs.GetAsync(Collection.Tasks, id, call.Aborted))?.Id ?? throw ApiException.InvalidTaskId(id);

    private static int BatchSize(RpcCall call, int fallback) => Math.Clamp(call.Int("batch_size") ?? fallback, 1, MaxBatch);

    /// <summary>Reads [{metric, variants}] (or plain metric names) into a metric → variants map; null when absent.</summary>
    private static Dictionary<string, IReadOnlyList<string>>? MetricFilter(JsonArray? metrics)
    {
        if (metrics is null || metrics.Count == 0)
            return null;
        var filter = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var item in metrics)
        {
            if (item is JsonObject obj)
                filter[RpcCall.AsString(obj["metric"], "metric") ?? ""] = RpcCall.AsStringList(obj["variants"], "variants") ?? [];
            else
                filter[RpcCall.AsString(item, "metrics") ?? ""] = [];
        }
        return filter;
    }

    /// <summary>Scroll ids are an opaque encoding of the last position returned.</summary>
    private static class Cursor
    {
        public static string Encode(long a, long b) => Base64Url.EncodeToString(Encoding.ASCII.GetBytes($"{a}:{b}"));

        public static (long, long)? Decode(string? scrollId)
        {
            if (string.IsNullOrEmpty(scrollId))
                return null;
            try
            {
                var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(scrollId)).Split(':');
                return (long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is FormatException or IndexOutOfRangeException or OverflowException)
            {
                throw ApiException.Validation("invalid scroll_id");
            }
        }
    }

    // The wire form of an ingest result: events.add_batch answers it as the ClearML server does.
    private static JsonObject ToJson(IngestResult result)
    {
        var info = new JsonObject();
        foreach (var (message, count) in result.ErrorsInfo)
            info[message] = count;
        return new JsonObject { ["added"] = result.Added, ["errors"] = result.Errors, ["errors_info"] = info };
    }
}
