using Slipway.Serving.Python;

namespace Slipway.Serving;

public enum VersionState
{
    Loading,
    Ready,
    Failed,
}

/// <summary>
/// One endpoint version on this host: its model once loaded, its state, the requests it has in flight and what it has
/// served. A retired version takes no new request (<see cref="TryAcquire"/> refuses) and closes its session (or stops its
/// Python worker) once the ones in flight are done.
/// </summary>
public sealed class ServedVersion(string endpointId, string endpointName, long number, string modelId, string modelUri,
    string engine = ServedVersion.Onnx, string preprocessUri = "", string requirements = "")
{
    public const string Onnx = "onnx";
    public const string Python = "python";
    private readonly Lock _workerLock = new();
    private PythonWorker? _worker;
    private int _inFlight;
    private int _retired;
    private volatile VersionState _state = VersionState.Loading;

    public string EndpointId { get; } = endpointId;
    public string EndpointName { get; } = endpointName;
    public long Number { get; } = number;
    public string ModelId { get; } = modelId;
    public string ModelUri { get; } = modelUri;
    public string Engine { get; } = engine;
    public string PreprocessUri { get; } = preprocessUri;
    public string Requirements { get; } = requirements;
    public string Key => KeyOf(EndpointId, Number, ModelUri, Engine, PreprocessUri);

    /// <summary>What identifies a loaded version: a change to any of these is a new load.</summary>
    public static string KeyOf(string endpointId, long number, string modelUri, string engine, string preprocessUri) =>
        $"{endpointId}/{number}/{modelUri}/{engine}/{preprocessUri}";

    public VersionState State => _state;
    public string Reason { get; private set; } = "";
    public OnnxModel? Model { get; private set; }
    public Batcher? Batcher { get; private set; }
    public VersionStats Stats { get; } = new();
    public CustomStatistics Custom { get; } = new();

    /// <summary>What the endpoint's metric rule measured on this version's requests.</summary>
    public UserMetrics Metrics { get; } = new();

    /// <summary>The Python worker of a Python-engine version (set once it is started, before it is ready).</summary>
    internal PythonWorker? Worker
    {
        get
        {
            lock (_workerLock)
                return _worker;
        }
    }

    /// <summary>Binds the worker; false when the version was retired meanwhile (the caller stops the worker).</summary>
    internal bool Attach(PythonWorker worker)
    {
        lock (_workerLock)
        {
            if (Volatile.Read(ref _retired) != 0)
                return false;
            _worker = worker;
            return true;
        }
    }

    /// <summary>A Python worker answers (again, after a restart).</summary>
    public void SetReady()
    {
        Reason = "";
        _state = VersionState.Ready;
    }

    /// <summary>An ONNX version's session is open and warmed; an auto device that ended on the CPU keeps its reason.</summary>
    public void SetReady(OnnxModel model, Batcher? batcher)
    {
        Reason = model.DeviceNote;
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
        PythonWorker? worker;
        lock (_workerLock)
        {
            Interlocked.Exchange(ref _retired, 1);
            worker = _worker;
            _worker = null;
        }
        var deadline = DateTime.UtcNow + timeout;
        while (Volatile.Read(ref _inFlight) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        if (Batcher is { } batcher)
            await batcher.DisposeAsync();
        Model?.Dispose();
        if (worker is not null)
            await worker.DisposeAsync();
    }
}

/// <summary>Requests, errors and their total latency of one version, counted without locks, for /metrics and the status reports.</summary>
public sealed class VersionStats
{
    private long _requests;
    private long _errors;
    private long _latencyTicks;

    public long Requests => Interlocked.Read(ref _requests);
    public long Errors => Interlocked.Read(ref _errors);
    public TimeSpan TotalLatency => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));

    public void Record(TimeSpan elapsed, bool failed)
    {
        Interlocked.Increment(ref _requests);
        if (failed)
            Interlocked.Increment(ref _errors);
        Interlocked.Add(ref _latencyTicks, elapsed.Ticks);
    }
}
