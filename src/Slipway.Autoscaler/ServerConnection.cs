using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Autoscaler;

/// <summary>The real server, through <see cref="SlipwayClient"/> and the autoscaler.* endpoints.</summary>
public sealed class ServerConnection(SlipwayClient client) : IAutoscalerServer, IEnrollmentIssuer
{
    private static JsonSerializerOptions StateJson => AutoscalerState.Json;

    public async Task<IReadOnlyCollection<string>> QueueNamesAsync(CancellationToken ct) =>
        (await client.Queues.ListAsync(ct).ConfigureAwait(false)).Select(q => q.Name).ToHashSet(StringComparer.Ordinal);

    public async Task<(IReadOnlyDictionary<string, IReadOnlyList<string>> Queued, IReadOnlyList<WorkerView> Workers)> ReadAsync(
        IReadOnlyCollection<string> queues, CancellationToken ct)
    {
        var listing = client.Queues.ListAsync(ct);
        var workers = client.CallAsync("workers.get_all", [], ct);
        var queued = (await listing.ConfigureAwait(false)).Where(q => queues.Contains(q.Name))
            .ToDictionary(q => q.Name, q => q.Entries, StringComparer.Ordinal);
        var list = (await workers.ConfigureAwait(false))["workers"] as JsonArray ?? [];
        var views = list.OfType<JsonObject>()
            .Select(w => new WorkerView(w["id"]?.GetValue<string>() ?? "", w["task"] is JsonObject t ? t["id"]?.GetValue<string>() : null,
                w["drain_state"]?.GetValue<string>() == "draining", w["interruption"]?.GetValue<string>()))
            .Where(w => w.Id.Length > 0).ToList();
        return (queued, await MarkDoNotDisruptAsync(views, ct).ConfigureAwait(false));
    }

    /// <summary>Which running tasks are tagged do_not_disrupt: one read of the busy workers' tasks, none when all are idle.</summary>
    private async Task<List<WorkerView>> MarkDoNotDisruptAsync(List<WorkerView> workers, CancellationToken ct)
    {
        var running = workers.Where(w => w.Task is not null).Select(w => w.Task!).Distinct(StringComparer.Ordinal).ToList();
        if (running.Count == 0)
            return workers;
        var data = await client.CallAsync("tasks.get_all", new JsonObject
        {
            ["id"] = new JsonArray(running.Select(t => (JsonNode?)t).ToArray()),
            ["only_fields"] = new JsonArray("id", "tags", "system_tags"),
            ["search_hidden"] = true,
        }, ct).ConfigureAwait(false);
        var marked = (data["tasks"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(t => new[] { t["tags"], t["system_tags"] }.OfType<JsonArray>().SelectMany(a => a).Any(tag => tag?.GetValue<string>() == WorkerView.DoNotDisruptTag))
            .Select(t => t["id"]?.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        return marked.Count == 0 ? workers : workers.Select(w => w.Task is { } task && marked.Contains(task) ? w with { DoNotDisrupt = true } : w).ToList();
    }

    public async Task<AutoscalerState?> LoadStateAsync(string scaler, CancellationToken ct)
    {
        var data = await client.CallAsync("autoscaler.get_state", new JsonObject { ["scaler"] = scaler }, ct).ConfigureAwait(false);
        return data["state"] is JsonObject state ? state.Deserialize<AutoscalerState>(StateJson) : null;
    }

    public Task SaveStateAsync(string scaler, AutoscalerState state, CancellationToken ct) =>
        client.CallAsync("autoscaler.set_state", new JsonObject { ["scaler"] = scaler, ["state"] = JsonSerializer.SerializeToNode(state, StateJson) }, ct);

    public async Task AppendLogAsync(string scaler, IReadOnlyList<Decision> decisions, CancellationToken ct)
    {
        foreach (var chunk in decisions.Chunk(500))
        {
            var events = new JsonArray(chunk.Select(d => (JsonNode)new JsonObject
            {
                ["action"] = d.Action.ToString().ToLowerInvariant(), ["reason"] = d.Reason, ["resource"] = d.Resource,
                ["launch_id"] = d.LaunchId, ["instance_id"] = d.InstanceId, ["detail"] = d.Detail,
                ["tasks"] = new JsonArray(d.Tasks.Select(t => (JsonNode?)t).ToArray()),
            }).ToArray());
            await client.CallAsync("autoscaler.add_events", new JsonObject { ["scaler"] = scaler, ["events"] = events }, ct).ConfigureAwait(false);
        }
    }

    public async Task<bool> ReleaseTaskAsync(string task, string worker, bool requeue, string reason, CancellationToken ct)
    {
        var data = await client.CallAsync("autoscaler.release_task",
            new JsonObject { ["task"] = task, ["worker"] = worker, ["requeue"] = requeue, ["reason"] = reason }, ct).ConfigureAwait(false);
        return data["released"]?.GetValue<bool>() == true;
    }

    public Task HoldTaskAsync(string task, string message, CancellationToken ct) =>
        client.CallAsync("autoscaler.hold_task", new JsonObject { ["task"] = task, ["message"] = message }, ct);

    public Task DrainWorkersAsync(IReadOnlyList<string> workers, bool drain, string reason, CancellationToken ct) =>
        client.CallAsync("autoscaler.drain_workers", new JsonObject
        {
            ["workers"] = new JsonArray(workers.Select(w => (JsonNode?)w).ToArray()), ["drain"] = drain, ["reason"] = reason,
        }, ct);

    public async Task UnregisterWorkersAsync(IReadOnlyList<string> workers, CancellationToken ct)
    {
        foreach (var worker in workers)
            await client.CallAsync("workers.unregister", new JsonObject { ["worker"] = worker }, ct).ConfigureAwait(false);
    }

    public Task RevokeLaunchesAsync(string scaler, IReadOnlyList<string> launchIds, CancellationToken ct) =>
        client.CallAsync("autoscaler.revoke_launch", new JsonObject { ["scaler"] = scaler, ["launch_ids"] = new JsonArray(launchIds.Select(l => (JsonNode?)l).ToArray()) }, ct);

    public async Task<Enrollment> IssueAsync(string scaler, string launchId, string workerPrefix, TimeSpan lifetime, CancellationToken ct)
    {
        var data = await client.CallAsync("autoscaler.create_enrollment", new JsonObject
        {
            ["scaler"] = scaler, ["launch_id"] = launchId, ["worker_prefix"] = workerPrefix,
            ["expires_in_sec"] = (long)Math.Clamp(Math.Ceiling(lifetime.TotalSeconds), 1, 24 * 3600),
        }, ct).ConfigureAwait(false);
        var token = data["token"]?.GetValue<string>() ?? throw new SlipwayException("autoscaler.create_enrollment answered no token");
        var expires = DateTimeOffset.Parse(data["expires"]?.GetValue<string>() ?? "", System.Globalization.CultureInfo.InvariantCulture);
        return new Enrollment(token, expires);
    }
}
