using System.Text.Json.Nodes;

namespace Slipway.Client;

/// <summary>Find, read and reproduce tasks: clone with changes, enqueue, wait, abort, reset; read scalars and console.</summary>
public sealed class TasksClient
{
    private readonly SlipwayClient _client;

    internal TasksClient(SlipwayClient client) => _client = client;

    /// <summary>Reads one task.</summary>
    /// <exception cref="SlipwayException">There is no such task (result code 400, subcode 101).</exception>
    public async Task<TaskInfo> GetAsync(string taskId, CancellationToken cancellationToken = default)
    {
        var data = await _client.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = taskId }, cancellationToken).ConfigureAwait(false);
        return TaskInfo.From(data["task"] as JsonObject ?? throw new SlipwayException($"tasks.get_by_id: no task in the answer for {taskId}"));
    }

    /// <summary>Lists tasks, newest first unless <see cref="TaskFilter.OrderBy"/> says otherwise.</summary>
    public async Task<IReadOnlyList<TaskInfo>> ListAsync(TaskFilter? filter = null, CancellationToken cancellationToken = default)
    {
        filter ??= new TaskFilter();
        var body = new JsonObject
        {
            ["order_by"] = new JsonArray(filter.OrderBy ?? "-last_update"),
            ["page"] = filter.Page,
            ["page_size"] = filter.PageSize,
            ["search_hidden"] = filter.IncludeHidden,
        };
        if (filter.ProjectId is { } project)
            body["project"] = new JsonArray(project);
        if (filter.Name is { } name)
            body["name"] = filter.ExactName ? JsonRead.ExactName(name) : name;
        if (filter.Statuses is { Count: > 0 } statuses)
            body["status"] = statuses.ToJsonArray();
        if (filter.Tags is { Count: > 0 } tags)
            body["tags"] = tags.ToJsonArray();
        if (filter.Ids is { Count: > 0 } ids)
            body["id"] = ids.ToJsonArray();
        if (filter.Type is { } type)
            body["type"] = new JsonArray(type);
        if (filter.SystemTags is { Count: > 0 } systemTags)
            body["system_tags"] = systemTags.ToJsonArray();
        else if (!filter.IncludeArchived)
            body["system_tags"] = new JsonArray("-archived");
        var data = await _client.CallAsync("tasks.get_all", body, cancellationToken).ConfigureAwait(false);
        return data["tasks"] is JsonArray list ? list.OfType<JsonObject>().Select(TaskInfo.From).ToList() : [];
    }

    /// <summary>
    /// Clones a task into a new draft, optionally with a new name or project, changed hyperparameters and a changed code reference.
    /// </summary>
    /// <returns>The new draft task.</returns>
    public async Task<TaskInfo> CloneAsync(string taskId, TaskCloneOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new TaskCloneOptions();
        var body = new JsonObject { ["task"] = taskId };
        if (options.Name is { } name)
            body["new_task_name"] = name;
        if (options.ProjectId is { } project)
            body["new_task_project"] = project;
        if (options.Comment is { } comment)
            body["new_task_comment"] = comment;
        var data = await _client.CallAsync("tasks.clone", body, cancellationToken).ConfigureAwait(false);
        var id = data.Str("id") ?? throw new SlipwayException("tasks.clone: the answer has no id");
        if (options.Parameters is { Count: > 0 } parameters)
            await SetParametersAsync(id, parameters, cancellationToken).ConfigureAwait(false);
        if (options.Code is { } code)
            await SetCodeAsync(id, code, cancellationToken).ConfigureAwait(false);
        if (options.Tags is { } tags)
            await _client.CallAsync("tasks.edit", new JsonObject { ["task"] = id, ["tags"] = tags.ToJsonArray() }, cancellationToken).ConfigureAwait(false);
        return await GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets hyperparameters, given as <c>"Section/name"</c> (a name without a section goes to <c>General</c>). Others are kept.</summary>
    public Task SetParametersAsync(string taskId, IReadOnlyDictionary<string, string> parameters, CancellationToken cancellationToken = default)
    {
        var items = new JsonArray();
        foreach (var (key, value) in parameters)
        {
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            var (section, name) = slash < 0 ? ("General", key) : (key[..slash], key[(slash + 1)..]);
            items.Add(new JsonObject { ["section"] = section, ["name"] = name, ["value"] = value });
        }
        return _client.CallAsync("tasks.edit_hyper_params", new JsonObject { ["task"] = taskId, ["hyperparams"] = items, ["replace_hyperparams"] = "none" }, cancellationToken);
    }

    /// <summary>Changes a draft's code reference; null fields are left as they are.</summary>
    public async Task SetCodeAsync(string taskId, CodeReference code, CancellationToken cancellationToken = default)
    {
        var current = (await GetAsync(taskId, cancellationToken).ConfigureAwait(false)).Raw["script"] as JsonObject ?? [];
        var script = (JsonObject)current.DeepClone();
        void Set(string field, string? value)
        {
            if (value is not null)
                script[field] = value;
        }
        Set("repository", code.Repository);
        Set("branch", code.Branch);
        Set("version_num", code.Commit);
        Set("tag", code.Tag);
        Set("entry_point", code.EntryPoint);
        Set("working_dir", code.WorkingDirectory);
        Set("diff", code.Diff);
        Set("binary", code.Binary);
        await _client.CallAsync("tasks.edit", new JsonObject { ["task"] = taskId, ["script"] = script }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Puts a draft into a queue (by name; a queue that does not exist yet is created).</summary>
    public Task EnqueueAsync(string taskId, string queueName, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.enqueue", new JsonObject { ["task"] = taskId, ["queue_name"] = queueName }, cancellationToken);

    /// <summary>Takes a queued task out of its queue, back to draft.</summary>
    public Task DequeueAsync(string taskId, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.dequeue", new JsonObject { ["task"] = taskId }, cancellationToken);

    /// <summary>
    /// Aborts a running or queued task. A task run by an agent is asked to stop (its status message becomes
    /// <c>stopping</c>) and the agent ends it; with <paramref name="force"/>, or for a task nobody runs, it is stopped at once.
    /// </summary>
    public Task AbortAsync(string taskId, string? reason = null, bool force = false, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.stop", new JsonObject { ["task"] = taskId, ["force"] = force, ["status_reason"] = reason ?? "aborted" }, cancellationToken);

    /// <summary>Resets a task to draft, clearing what it reported.</summary>
    public Task ResetAsync(string taskId, bool force = false, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.reset", new JsonObject { ["task"] = taskId, ["force"] = force }, cancellationToken);

    /// <summary>Publishes a completed task.</summary>
    public Task PublishAsync(string taskId, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.publish", new JsonObject { ["task"] = taskId, ["force"] = false }, cancellationToken);

    /// <summary>Archives tasks (hidden from default lists, kept).</summary>
    public Task ArchiveAsync(IEnumerable<string> taskIds, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.archive_many", new JsonObject { ["ids"] = taskIds.ToJsonArray() }, cancellationToken);

    /// <summary>Brings archived tasks back into default lists.</summary>
    public Task UnarchiveAsync(IEnumerable<string> taskIds, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.unarchive_many", new JsonObject { ["ids"] = taskIds.ToJsonArray() }, cancellationToken);

    /// <summary>Replaces a task's tags (in any status, as the web UI does); the order given is kept.</summary>
    public Task SetTagsAsync(string taskId, IEnumerable<string> tags, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.update", new JsonObject { ["task"] = taskId, ["tags"] = tags.ToJsonArray() }, cancellationToken);

    /// <summary>Deletes a task and what it reported.</summary>
    public Task DeleteAsync(string taskId, bool force = false, CancellationToken cancellationToken = default) =>
        _client.CallAsync("tasks.delete", new JsonObject { ["task"] = taskId, ["force"] = force }, cancellationToken);

    /// <summary>Waits until the task finishes (stopped, completed, failed, published or closed) and returns it.</summary>
    /// <param name="taskId">The task.</param>
    /// <param name="pollInterval">How often to look; default 1 s.</param>
    /// <param name="cancellationToken">Cancels the wait (the task is left alone).</param>
    public async Task<TaskInfo> WaitAsync(string taskId, TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var task = await GetAsync(taskId, cancellationToken).ConfigureAwait(false);
            if (task.IsFinished)
                return task;
            await Task.Delay(pollInterval ?? TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads the reported scalars: metric → variant → points ordered by iteration. Series longer than
    /// <paramref name="maxPoints"/> come back downsampled (each bucket's extremes kept).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, ScalarSeries>>> GetScalarsAsync(
        string taskId, int maxPoints = 100_000, CancellationToken cancellationToken = default)
    {
        var data = await _client.CallAsync("events.scalar_metrics_iter_histogram",
            new JsonObject { ["task"] = taskId, ["samples"] = maxPoints, ["key"] = "iter" }, cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<string, IReadOnlyDictionary<string, ScalarSeries>>();
        foreach (var (metric, variants) in data)
        {
            if (variants is not JsonObject byVariant)
                continue;
            var series = new Dictionary<string, ScalarSeries>();
            foreach (var (variant, points) in byVariant)
            {
                var x = points.At("x") as JsonArray ?? [];
                var y = points.At("y") as JsonArray ?? [];
                series[variant] = new ScalarSeries(
                    x.Select(v => v?.GetValue<long>() ?? 0).ToArray(),
                    y.Select(v => v is null ? double.NaN : v.GetValue<double>()).ToArray());
            }
            result[metric] = series;
        }
        return result;
    }

    /// <summary>Reads the task's console output, oldest first.</summary>
    public async IAsyncEnumerable<ConsoleEntry> GetConsoleAsync(string taskId,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? scroll = null;
        while (true)
        {
            var (entries, next) = await ReadConsoleAsync(taskId, scroll, cancellationToken).ConfigureAwait(false);
            foreach (var entry in entries)
                yield return entry;
            if (entries.Count == 0)
                yield break;
            scroll = next;
        }
    }

    /// <summary>
    /// Reads the task's console output, oldest first, and keeps reading what it writes until the task finishes
    /// (stopped, completed, failed, published or closed); then ends after the last of its output.
    /// </summary>
    /// <param name="taskId">The task.</param>
    /// <param name="pollInterval">How often to look for new output once all of it was read; default 1 s.</param>
    /// <param name="cancellationToken">Stops following.</param>
    public async IAsyncEnumerable<ConsoleEntry> FollowConsoleAsync(string taskId, TimeSpan? pollInterval = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? scroll = null;
        var finished = false;
        while (true)
        {
            var (entries, next) = await ReadConsoleAsync(taskId, scroll, cancellationToken).ConfigureAwait(false);
            foreach (var entry in entries)
                yield return entry;
            scroll = next ?? scroll;
            if (entries.Count > 0)
                continue;
            if (finished)
                yield break;
            // Output written before the task finished is read by one more pass after the status says so.
            finished = (await GetAsync(taskId, cancellationToken).ConfigureAwait(false)).IsFinished;
            if (!finished)
                await Task.Delay(pollInterval ?? TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<(List<ConsoleEntry> Entries, string? Scroll)> ReadConsoleAsync(string taskId, string? scroll, CancellationToken ct)
    {
        var body = new JsonObject { ["task"] = taskId, ["navigate_earlier"] = false, ["batch_size"] = 1000, ["order"] = "asc" };
        if (scroll is not null)
            body["scroll_id"] = scroll;
        else
            body["from_timestamp"] = 0;
        var data = await _client.CallAsync("events.get_task_log", body, ct).ConfigureAwait(false);
        var events = data["events"] as JsonArray ?? [];
        var entries = events.Select(e => new ConsoleEntry(DateTimeOffset.FromUnixTimeMilliseconds(e.Long("timestamp") ?? 0), e.Str("level") ?? "info", e.Str("msg") ?? "")).ToList();
        return (entries, data.Str("scroll_id"));
    }
}

/// <summary>Which tasks <see cref="TasksClient.ListAsync"/> returns.</summary>
public sealed record TaskFilter
{
    /// <summary>Only tasks of this project id.</summary>
    public string? ProjectId { get; init; }

    /// <summary>Only tasks whose name matches (a regular expression, or exactly when <see cref="ExactName"/>).</summary>
    public string? Name { get; init; }

    /// <summary>Match <see cref="Name"/> exactly rather than as a regular expression.</summary>
    public bool ExactName { get; init; }

    /// <summary>Only these ids.</summary>
    public IReadOnlyList<string>? Ids { get; init; }

    /// <summary>Only tasks in one of these statuses.</summary>
    public IReadOnlyList<string>? Statuses { get; init; }

    /// <summary>Only tasks with one of these tags (<c>-tag</c> excludes).</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>System tag filter; when set, replaces the default that hides archived tasks.</summary>
    public IReadOnlyList<string>? SystemTags { get; init; }

    /// <summary>Only tasks of this type (e.g. <c>training</c>).</summary>
    public string? Type { get; init; }

    /// <summary>Include archived tasks. Default false.</summary>
    public bool IncludeArchived { get; init; }

    /// <summary>Include tasks of hidden projects (dataset versions). Default false.</summary>
    public bool IncludeHidden { get; init; }

    /// <summary>A field to order by, <c>-</c> for descending. Default <c>-last_update</c>.</summary>
    public string? OrderBy { get; init; }

    /// <summary>The page, from 0.</summary>
    public int Page { get; init; }

    /// <summary>Tasks per page. Default 100.</summary>
    public int PageSize { get; init; } = 100;
}

/// <summary>What <see cref="TasksClient.CloneAsync"/> changes in the copy.</summary>
public sealed record TaskCloneOptions
{
    /// <summary>The new task's name; default "Clone of ...".</summary>
    public string? Name { get; init; }

    /// <summary>The new task's project id; default the source's.</summary>
    public string? ProjectId { get; init; }

    /// <summary>The new task's comment.</summary>
    public string? Comment { get; init; }

    /// <summary>Hyperparameters to change, as <c>"Section/name"</c>.</summary>
    public IReadOnlyDictionary<string, string>? Parameters { get; init; }

    /// <summary>Code reference fields to change (null fields are kept).</summary>
    public CodeReference? Code { get; init; }

    /// <summary>Tags for the new task.</summary>
    public IReadOnlyList<string>? Tags { get; init; }
}

/// <summary>One scalar series: iterations and values, in order.</summary>
public sealed record ScalarSeries(long[] Iterations, double[] Values);

/// <summary>One console event (may hold several lines).</summary>
public sealed record ConsoleEntry(DateTimeOffset Time, string Level, string Message);
