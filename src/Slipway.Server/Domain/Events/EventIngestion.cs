using Slipway.Server.Core;
using Slipway.Server.Domain.Tasks;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Events;

/// <summary>The outcome of a batch: what was stored, and why the rest was not.</summary>
public sealed record IngestResult(int Added, int Errors, Dictionary<string, int> ErrorsInfo);

/// <summary>
/// Stores a batch of events and applies its side effects: events of unknown tasks or malformed events are
/// counted as errors without failing the batch; scalars update the task's last_metrics and last_iteration.
/// A model's events (model_event: true) name the model in their task field and update the model instead.
/// </summary>
public sealed class EventIngestion(IDocumentStore docs, IEventStore events, TaskUpdates updates, TimeProvider clock)
{
    // Merges into one task's last_metrics run one at a time in this process (striped by task), so writers
    // racing on a task queue up instead of failing their compare-and-swap; replicas still race, and retry.
    private readonly SemaphoreSlim[] _taskLocks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>Events per part of a batch; the SDK's batches are far smaller, so they are stored whole.</summary>
    public const int PartSize = 20_000;

    // A batch larger than a part (the largest body holds ~300,000 scalars) is stored part after part, as the reference
    // server's bulk writes are: the memory a batch takes while it is ingested is then bounded by a part, not by the
    // batch. A part is stored whole or not at all; a failure in a later part leaves the earlier ones stored.
    /// <param name="mayWrite">Whether the caller may report for a task or model; events of others count as errors, as unknown ids do.</param>
    public async Task<IngestResult> AddAsync(IEnumerable<ReadOnlyMemory<byte>> lines, string? worker, Func<Collection, StoredDoc, ValueTask<bool>> mayWrite,
        CancellationToken ct)
    {
        IngestResult? total = null;
        foreach (var part in lines.Chunk(PartSize))
        {
            var result = await AddPartAsync(part, worker, mayWrite, ct);
            if (total is null)
            {
                total = result;
                continue;
            }
            foreach (var (reason, count) in result.ErrorsInfo)
                total.ErrorsInfo[reason] = total.ErrorsInfo.GetValueOrDefault(reason) + count;
            total = total with { Added = total.Added + result.Added, Errors = total.Errors + result.Errors };
        }
        return total ?? new IngestResult(0, 0, []);
    }

    private async Task<IngestResult> AddPartAsync(IEnumerable<ReadOnlyMemory<byte>> lines, string? worker, Func<Collection, StoredDoc, ValueTask<bool>> mayWrite,
        CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var errors = new Dictionary<string, int>();
        var parsed = new List<ParsedEvent>();
        var names = new EventParser.Names();
        foreach (var line in lines)
        {
            try
            {
                parsed.Add(EventParser.Parse(line.Span, worker, now, names));
            }
            catch (ApiException e)
            {
                errors[e.Message] = errors.GetValueOrDefault(e.Message) + 1;
            }
        }

        var known = new HashSet<(string, bool)>();
        foreach (var owner in parsed.Select(p => (p.Task, p.ForModel)).Distinct())
        {
            var collection = owner.ForModel ? Collection.Models : Collection.Tasks;
            if (await docs.GetAsync(collection, owner.Task, ct) is { } doc && await mayWrite(collection, doc))
                known.Add(owner);
        }
        var scalars = new List<ScalarEvent>();
        var others = new List<StoredEvent>();
        foreach (var e in parsed)
        {
            if (!known.Contains((e.Task, e.ForModel)))
            {
                var message = e.ForModel ? $"Invalid model id {e.Task}" : $"Invalid task id {e.Task}";
                errors[message] = errors.GetValueOrDefault(message) + 1;
            }
            else if (e.Scalar is { } scalar)
            {
                scalars.Add(scalar);
            }
            else
            {
                others.Add(e.Other!);
            }
        }
        // Re-sent non-log events overwrite: within one batch the last one wins.
        others = others.Where(e => e.EventId is null).Concat(others.Where(e => e.EventId is not null).GroupBy(e => (e.Task, e.EventId)).Select(g => g.Last())).ToList();

        await events.AddAsync(scalars, others, ct);
        var modelIds = parsed.Where(p => p.ForModel).Select(p => p.Task).ToHashSet();
        foreach (var group in scalars.GroupBy(s => s.Task))
        {
            var summaries = LastMetrics.Summarize(group).Values;
            if (summaries.Count == 0)
                continue;
            var gate = _taskLocks[(group.Key.GetHashCode() & int.MaxValue) % _taskLocks.Length];
            await gate.WaitAsync(ct);
            try
            {
                if (modelIds.Contains(group.Key))
                    await MergeIntoModelAsync(group.Key, summaries, ct);
                else
                    await updates.UpdateAsync(group.Key, task => LastMetrics.Merge(task, summaries, updates.Now()), ct);
            }
            finally
            {
                gate.Release();
            }
        }
        var errorCount = errors.Values.Sum();
        return new IngestResult(scalars.Count + others.Count, errorCount, errors);
    }

    // A model deleted since its events were checked has no metrics to keep.
    private Task MergeIntoModelAsync(string id, IEnumerable<LastMetrics.Summary> summaries, CancellationToken ct) =>
        docs.UpdateAsync(Collection.Models, id, model => LastMetrics.Merge(model, summaries, updates.Now()), missing: null, ct);
}
