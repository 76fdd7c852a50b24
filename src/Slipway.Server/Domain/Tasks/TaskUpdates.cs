using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Tasks;

/// <summary>
/// Read-modify-write of one task, atomic through compare-and-swap: a change re-runs on a fresh copy when
/// another writer got there first; a status change whose starting status moved meanwhile lost a race (400/121).
/// </summary>
public sealed class TaskUpdates(IDocumentStore docs, TimeProvider clock)
{
    public string Now() => Json.Timestamp(clock.GetUtcNow());

    public async Task<StoredDoc> RequireAsync(string id, CancellationToken ct) =>
        await docs.GetAsync(Collection.Tasks, id, ct) ?? throw ApiException.InvalidTaskId(id);

    /// <summary>Applies <paramref name="change"/> to a copy of the task and stores it; returns the stored body.</summary>
    public async Task<JsonObject> UpdateAsync(string id, Action<JsonObject> change, CancellationToken ct) =>
        (await docs.UpdateAsync(Collection.Tasks, id, change, () => ApiException.InvalidTaskId(id), ct))!;

    /// <summary>
    /// Moves a task to <paramref name="status"/> under the state machine (unless forced). The transition is
    /// checked against the status first read; if that status changes before the write lands, the call fails
    /// with 400/121 rather than applying a transition that may no longer be legal.
    /// </summary>
    public async Task<(JsonObject Task, JsonObject Fields)> ChangeStatusAsync(string id, string status, bool force, string? reason,
        string? message, CancellationToken ct, Action<JsonObject, JsonObject, string>? also = null)
    {
        string? expected = null;
        JsonObject fields = [];
        var task = await UpdateAsync(id, body =>
        {
            var current = body["status"]?.GetValue<string>() ?? TaskStatuses.Created;
            if (expected is not null && current != expected)
                throw ApiException.StatusRace(id);
            expected = current;
            if (!force && !TaskStatuses.CanChange(current, status))
                throw ApiException.InvalidTaskStatus($"Invalid status change, current_status={current}, new_status={status}");
            var now = Now();
            TaskDocuments.SetStatus(body, status, reason ?? "", message ?? "", now);
            fields = new JsonObject
            {
                ["status"] = status,
                ["status_reason"] = reason ?? "",
                ["status_message"] = message ?? "",
                ["status_changed"] = now,
                ["last_update"] = now,
                ["last_change"] = now,
            };
            also?.Invoke(body, fields, current);
        }, ct);
        return (task, fields);
    }

    /// <summary>The reference rule for changing a task's definition: only while created, or also in progress with force.</summary>
    public static void RequireEditable(JsonObject task, bool force)
    {
        var status = task["status"]?.GetValue<string>() ?? TaskStatuses.Created;
        if (status == TaskStatuses.Created || (force && status == TaskStatuses.InProgress))
            return;
        throw ApiException.InvalidTaskStatus($"expected={TaskStatuses.Created}, status={status}");
    }
}
