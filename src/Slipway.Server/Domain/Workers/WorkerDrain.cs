using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Workers;

/// <summary>
/// A draining worker gets no new task: the autoscaler marks the workers of an instance it means to stop, each worker's
/// status report tells its agent, and <c>queues.get_next_task</c> hands a draining worker nothing, so a task is never
/// taken by a machine about to go. The mark lives on the worker's document, so it ends when the worker unregisters.
/// </summary>
public sealed class WorkerDrain(IDocumentStore docs, TimeProvider clock)
{
    public const string Draining = "draining";
    public const int MaxReasonLength = 2000;

    /// <summary>Marks (or, with <paramref name="drain"/> false, unmarks) the named workers of the tenant; returns the ids not registered.</summary>
    public async Task<List<string>> SetAsync(string company, IReadOnlyList<string> workers, bool drain, string? reason, CancellationToken ct)
    {
        var missing = new List<string>();
        var now = Json.Timestamp(clock.GetUtcNow());
        foreach (var worker in workers.Distinct(StringComparer.Ordinal))
        {
            var changed = await docs.UpdateAsync(Collection.Workers, Tenants.WorkerKey(company, worker), body =>
            {
                if (drain)
                {
                    body["drain_state"] = Draining;
                    body["drain_reason"] = reason;
                    body["drain_time"] = now;
                }
                else
                {
                    body.Remove("drain_state");
                    body.Remove("drain_reason");
                    body.Remove("drain_time");
                }
            }, missing: null, ct);
            if (changed is null)
                missing.Add(worker);
        }
        return missing;
    }

    public static bool IsDraining(JsonObject worker) => Json.GetString(worker, "drain_state") == Draining;

    /// <summary>The worker's drain reason when it is draining, else null.</summary>
    public async Task<string?> DrainReasonAsync(string company, string worker, CancellationToken ct) =>
        await docs.GetAsync(Collection.Workers, Tenants.WorkerKey(company, worker), ct) is { } doc && IsDraining(doc.Body)
            ? Json.GetString(doc.Body, "drain_reason") ?? "draining"
            : null;

    /// <summary>
    /// Whether a caller that named no worker must get no task: an enrolled agent (one user per launched instance, as the
    /// official clearml-agent on an autoscaled machine is) any of whose workers is draining. Other callers are not judged by
    /// their workers, since one user may run many agents.
    /// </summary>
    public async Task<string?> CallerDrainReasonAsync(Identity caller, CancellationToken ct)
    {
        if (caller.Role != Roles.Agent)
            return null;
        var query = new DocQuery().Where(new FieldIn("user.id", [caller.User])).Where(new FieldIn("drain_state", [Draining]));
        query.Take = 1;
        var found = await docs.FindAsync(Collection.Workers, query, ct);
        return found.Count > 0 ? Json.GetString(found[0].Body, "drain_reason") ?? "draining" : null;
    }
}
