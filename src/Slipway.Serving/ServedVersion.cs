namespace Slipway.Serving;

public enum VersionState
{
    Loading,
    Ready,
    Failed,
}

/// <summary>
/// One endpoint version on this host: its model once loaded, its state, the requests it has in flight and what it has
/// served. A retired version takes no new request (<see cref="TryAcquire"/> refuses) and closes its session once the ones
/// in flight are done.
/// </summary>
public sealed class ServedVersion(string endpointId, string endpointName, long number, string modelId, string modelUri)
{
    private int _inFlight;
    private int _retired;
    private volatile VersionState _state = VersionState.Loading;

    public string EndpointId { get; } = endpointId;
    public string EndpointName { get; } = endpointName;
    public long Number { get; } = number;
    public string ModelId { get; } = modelId;
    public string ModelUri { get; } = modelUri;
    public string Key => $"{EndpointId}/{Number}/{ModelUri}";

    public VersionState State => _state;
    public string Reason { get; private set; } = "";
    public OnnxModel? Model { get; private set; }
    public Batcher? Batcher { get; private set; }
    public VersionStats Stats { get; } = new();

    public void SetReady(OnnxModel model, Batcher? batcher)
    {
        Model = model;
        Batcher = batcher;
        _state = VersionState.Ready;
    }

    public void SetFailed(string reason)
    {
        Reason = reason;
        _state = VersionState.Failed;
    }

    /// <summary>Counts a request in; false when the version was retired meanwhile (the caller picks again from the new table).</summary>
    public bool TryAcquire()
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _retired) == 0 && _state == VersionState.Ready)
            return true;
        Interlocked.Decrement(ref _inFlight);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Runs one request's inputs through the model (through the batcher when the endpoint batches).</summary>
    public ValueTask<List<TensorData>> InferAsync(List<TensorData> inputs, CancellationToken ct) =>
        Batcher is { } batcher ? batcher.RunAsync(inputs, ct) : ValueTask.FromResult(Model!.Run(inputs));

    /// <summary>Stops new requests, waits for those in flight (up to <paramref name="timeout"/>), then closes the session.</summary>
    public async Task RetireAsync(TimeSpan timeout)
    {
        Interlocked.Exchange(ref _retired, 1);
        var deadline = DateTime.UtcNow + timeout;
        while (Volatile.Read(ref _inFlight) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        if (Batcher is { } batcher)
            await batcher.DisposeAsync();
        Model?.Dispose();
    }
}

/// <summary>Requests, errors and a latency histogram of one version, counted without locks.</summary>
public sealed class VersionStats
{
    /// <summary>Upper bounds of the latency buckets, in seconds (Prometheus "le").</summary>
    public static readonly double[] Bounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly long[] _buckets = new long[Bounds.Length + 1];
    private long _requests;
    private long _errors;
    private long _latencyTicks;

    public long Requests => Interlocked.Read(ref _requests);
    public long Errors => Interlocked.Read(ref _errors);
    public TimeSpan TotalLatency => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));

    public long Bucket(int index) => Interlocked.Read(ref _buckets[index]);

    public void Record(TimeSpan elapsed, bool failed)
    {
        Interlocked.Increment(ref _requests);
        if (failed)
            Interlocked.Increment(ref _errors);
        Interlocked.Add(ref _latencyTicks, elapsed.Ticks);
        var seconds = elapsed.TotalSeconds;
        var index = 0;
        while (index < Bounds.Length && seconds > Bounds[index])
            index++;
        Interlocked.Increment(ref _buckets[index]);
    }
}
