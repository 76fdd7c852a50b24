using System.Threading.Channels;

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
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task[] _workers;

    public Batcher(OnnxModel model, int maxBatch, TimeSpan maxDelay, int workers)
    {
        _model = model;
        _maxBatch = maxBatch;
        _maxDelay = maxDelay;
        _workers = Enumerable.Range(0, Math.Max(1, workers)).Select(_ => Task.Run(WorkAsync)).ToArray();
    }

    public async ValueTask<List<TensorData>> RunAsync(List<TensorData> inputs, CancellationToken ct)
    {
        var rows = inputs.Count > 0 && inputs[0].Shape.Length > 0 ? inputs[0].Shape[0] : 1;
        var pending = new Pending(inputs, rows, new TaskCompletionSource<List<TensorData>>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
            throw new ObjectDisposedException(nameof(Batcher));
        return await pending.Done.Task.WaitAsync(ct);
    }

    private async Task WorkAsync()
    {
        var batch = new List<Pending>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            if (!_queue.Reader.TryRead(out var first))
                continue;
            batch.Clear();
            batch.Add(first);
            var rows = first.Rows;
            using (var delay = new CancellationTokenSource(_maxDelay))
            {
                while (rows < _maxBatch)
                {
                    if (_queue.Reader.TryRead(out var next))
                    {
                        batch.Add(next);
                        rows += next.Rows;
                        continue;
                    }
                    try
                    {
                        if (!await _queue.Reader.WaitToReadAsync(delay.Token))
                            break;
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
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

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_workers);
    }
}
