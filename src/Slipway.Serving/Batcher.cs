using System.Collections.Concurrent;

namespace Slipway.Serving;

/// <summary>
/// Dynamic batching for one version: requests that arrive together are stacked along the first dimension and run as one
/// session call, up to <c>maxBatch</c> rows or <c>maxDelay</c> after the first one waits. A model call costs nearly the
/// same for 1 row as for 32 on small and medium models, so under concurrent load this multiplies throughput. Requests
/// whose other dimensions differ, or a model whose outputs do not follow the batch, run on their own.
/// </summary>
public sealed class Batcher : IAsyncDisposable
{
    private sealed record Pending(List<TensorData> Inputs, long Rows, TaskCompletionSource<List<TensorData>> Done);

    private readonly OnnxModel _model;
    private readonly int _maxBatch;
    private readonly TimeSpan _maxDelay;
    private readonly BlockingCollection<Pending> _queue = new();
    private readonly Thread[] _workers;

    /// <summary>
    /// The model runs on threads of the batcher's own, not the thread pool's: a batch blocks its thread for the whole run,
    /// and on a small machine that would starve the pool that Kestrel answers requests with.
    /// </summary>
    public Batcher(OnnxModel model, int maxBatch, TimeSpan maxDelay, int workers)
    {
        _model = model;
        _maxBatch = maxBatch;
        _maxDelay = maxDelay;
        _workers = Enumerable.Range(0, Math.Max(1, workers)).Select(i => new Thread(Work) { IsBackground = true, Name = $"slipway-batcher-{i}" }).ToArray();
        foreach (var worker in _workers)
            worker.Start();
    }

    public async ValueTask<List<TensorData>> RunAsync(List<TensorData> inputs, CancellationToken ct)
    {
        var rows = inputs.Count > 0 && inputs[0].Shape.Length > 0 ? inputs[0].Shape[0] : 1;
        var pending = new Pending(inputs, rows, new TaskCompletionSource<List<TensorData>>(TaskCreationOptions.RunContinuationsAsynchronously));
        var queued = _queue.TryAdd(pending);
        ObjectDisposedException.ThrowIf(!queued, this);
        return await pending.Done.Task.WaitAsync(ct);
    }

    private void Work()
    {
        var batch = new List<Pending>();
        while (!_queue.IsCompleted)
        {
            if (!_queue.TryTake(out var first, Timeout.Infinite))
                continue;
            batch.Clear();
            batch.Add(first);
            var rows = first.Rows;
            var deadline = Environment.TickCount64 + (long)_maxDelay.TotalMilliseconds;
            while (rows < _maxBatch)
            {
                var left = deadline - Environment.TickCount64;
                if (!_queue.TryTake(out var next, (int)Math.Max(0, left)))
                    break;
                batch.Add(next);
                rows += next.Rows;
            }
            Run(batch);
        }
    }

    private void Run(List<Pending> batch)
    {
        var groups = batch.GroupBy(p => string.Join(";", p.Inputs.Select(i => $"{i.Name}:{string.Join(",", i.Shape.Skip(1))}")));
        foreach (var group in groups)
        {
            var members = group.ToList();
            if (members.Count == 1 || members[0].Inputs.Any(i => i.Shape.Length == 0))
            {
                foreach (var one in members)
                    RunAlone(one);
                continue;
            }
            try
            {
                var total = members.Sum(m => m.Rows);
                var stacked = members[0].Inputs.Select((input, index) =>
                {
                    var data = new byte[members.Sum(m => m.Inputs[index].Data.Length)];
                    var offset = 0;
                    foreach (var m in members)
                    {
                        m.Inputs[index].Data.CopyTo(data, offset);
                        offset += m.Inputs[index].Data.Length;
                    }
                    return input with { Shape = [total, .. input.Shape.Skip(1)], Data = data };
                }).ToList();
                var outputs = _model.Run(stacked);
                if (outputs.Any(o => o.Shape.Length == 0 || o.Shape[0] != total))
                {
                    foreach (var one in members)
                        RunAlone(one);
                    continue;
                }
                var row = 0L;
                foreach (var m in members)
                {
                    var mine = outputs.Select(o =>
                    {
                        var rowBytes = o.Data.Length / total;
                        return o with { Shape = [m.Rows, .. o.Shape.Skip(1)], Data = o.Data.AsSpan((int)(row * rowBytes), (int)(m.Rows * rowBytes)).ToArray() };
                    }).ToList();
                    row += m.Rows;
                    m.Done.TrySetResult(mine);
                }
            }
            catch (Exception e)
            {
                foreach (var m in members)
                    m.Done.TrySetException(e);
            }
        }
    }

    private void RunAlone(Pending pending)
    {
        try
        {
            pending.Done.TrySetResult(_model.Run(pending.Inputs));
        }
        catch (Exception e)
        {
            pending.Done.TrySetException(e);
        }
    }

    public ValueTask DisposeAsync()
    {
        _queue.CompleteAdding();
        foreach (var worker in _workers)
            worker.Join();
        _queue.Dispose();
        return ValueTask.CompletedTask;
    }
}
