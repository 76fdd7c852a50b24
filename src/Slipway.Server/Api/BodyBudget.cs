namespace Slipway.Server.Api;

/// <summary>
/// Bounds the bytes of large request bodies held and processed at once. Ingesting a batch costs several times its
/// size in memory, so a body of at least <see cref="Threshold"/> bytes waits for its share of the capacity before it
/// is read: a few clients sending 60 MB batches at once queue up, one after another, instead of driving the process
/// out of memory, and their requests take longer rather than fail. Smaller bodies, nearly all requests, never wait.
/// </summary>
public sealed class BodyBudget(long capacity) : IDisposable
{
    /// <summary>Room for one body of the largest size accepted, and the small ones beside it.</summary>
    public const long DefaultCapacity = RpcEndpoint.MaxBodyBytes + 16L * 1024 * 1024;

    public const long Threshold = 1024 * 1024;

    // One waiter at a time collects its share, so that a large body is not passed over forever by smaller ones.
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Lock _lock = new();
    private readonly long _capacity = capacity;
    private long _free = capacity;
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Free
    {
        get
        {
            lock (_lock)
                return _free;
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> (at most the capacity) are free and holds them until the lease is disposed.</summary>
    public async ValueTask<Lease> AcquireAsync(long bytes, CancellationToken ct)
    {
        bytes = Math.Min(bytes, _capacity);
        if (bytes < Threshold)
            return default;
        await _turn.WaitAsync(ct);
        try
        {
            while (true)
            {
                Task released;
                lock (_lock)
                {
                    if (_free >= bytes)
                    {
                        _free -= bytes;
                        return new Lease(this, bytes);
                    }
                    released = _released.Task;
                }
                await released.WaitAsync(ct);
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    private void Release(long bytes)
    {
        TaskCompletionSource released;
        lock (_lock)
        {
            _free += bytes;
            released = _released;
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        released.TrySetResult();
    }

    public void Dispose() => _turn.Dispose();

    public readonly struct Lease(BodyBudget? budget, long bytes) : IDisposable
    {
        public void Dispose() => budget?.Release(bytes);
    }
}
