namespace Slipway.Serving;

/// <summary>What an inference host listens on and how it follows the server. Defaults are written here once; <see cref="Validate"/> runs at start.</summary>
public sealed class ServingOptions
{
    /// <summary>The address Kestrel binds (0.0.0.0 for every interface).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The inference port; 0 picks a free one (tests).</summary>
    public int Port { get; set; } = 8090;

    /// <summary>
    /// How often the host asks the server for its endpoints. A short poll, not a long poll: the server keeps no state of its
    /// own (replicas share the store), so it has no change notification to hold a request on, and one indexed read of a few
    /// documents per second per host costs next to nothing. The host compares one revision string, so an unchanged
    /// configuration does no work and traffic never waits on it.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the host reports version states and request statistics to the server (and at once on a state change).</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest request body an endpoint takes unless it sets its own limit (max_request_bytes).</summary>
    public long MaxRequestBytes { get; set; } = 4 << 20;

    /// <summary>How long a removed version may finish its requests in flight before its session is closed anyway.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Where model files are downloaded to. Default ~/.slipway/cache/serving.</summary>
    public string CacheFolder { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".slipway", "cache", "serving");

    /// <summary>ONNX Runtime threads per session run; 1 keeps concurrent requests from fighting over cores.</summary>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>
    /// ONNX Runtime threads per run of a batching endpoint's session (they do not spin between runs). A batch is one large
    /// product whose callers all wait for it, so it may take every core while it runs: on 2 cores this took a 4.2M-parameter
    /// MLP from 1.75× to 2.36× the unbatched throughput at 64 clients. Default the core count, at most 8.
    /// </summary>
    public int BatchIntraOpThreads { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Where ONNX versions run: auto (GPU 0 when the runtime can drive it, else the CPU), cpu, cuda or cuda:N.</summary>
    public OnnxDevice Device { get; set; } = OnnxDevice.Auto;

    /// <summary>
    /// The ONNX Runtime library to load instead of the bundled CPU build, e.g. the CUDA build's <c>libonnxruntime.so</c>;
    /// default <c>SLIPWAY_ONNXRUNTIME</c> from the environment (so a host inside <c>slipway server</c> can use one too).
    /// </summary>
    public string? OnnxRuntimeLibrary { get; set; } = Environment.GetEnvironmentVariable("SLIPWAY_ONNXRUNTIME") is { Length: > 0 } library ? library : null;

    /// <summary>The id this host registers under; default the machine name and a random suffix (each host is its own container).</summary>
    public string ContainerId { get; set; } = $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>The URL clients reach this host at, as reported to the server; default derived from the bound address.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>
    /// The interpreter Python-engine versions run under (a version that lists requirements gets a virtual environment built
    /// from this one). Default <c>python3</c> from the PATH.
    /// </summary>
    public string Python { get; set; } = "python3";

    /// <summary>How long after a Python worker dies the first restart waits; each further failure doubles it.</summary>
    public TimeSpan WorkerRestartDelay { get; set; } = TimeSpan.FromSeconds(0.5);

    /// <summary>The longest wait between restarts of a Python worker that keeps dying.</summary>
    public TimeSpan WorkerMaxRestartDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest a Python-engine request may take in its worker. A worker answers one request at a time, so one that never
    /// returns would hold all the others: past this the request gets a 504 and the worker is killed and restarted.
    /// <see cref="Timeout.InfiniteTimeSpan"/> for no limit.
    /// </summary>
    public TimeSpan PythonRequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public void Validate()
    {
        if (PythonRequestTimeout <= TimeSpan.Zero && PythonRequestTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentException("the Python request time limit must be positive");
        if (string.IsNullOrWhiteSpace(Python))
            throw new ArgumentException("the Python interpreter must not be empty");
        if (WorkerRestartDelay <= TimeSpan.Zero || WorkerMaxRestartDelay < WorkerRestartDelay)
            throw new ArgumentException("the worker restart delay must be positive and at most the longest restart delay");
        if (Port is < 0 or > 65535)
            throw new ArgumentException("port must be between 0 and 65535");
        if (PollInterval <= TimeSpan.Zero || ReportInterval <= TimeSpan.Zero || DrainTimeout < TimeSpan.Zero)
            throw new ArgumentException("intervals must be positive");
        if (MaxRequestBytes < 1)
            throw new ArgumentException("the request size limit must be at least 1 byte");
        if (IntraOpThreads is < 1 or > 256 || BatchIntraOpThreads is < 1 or > 256)
            throw new ArgumentException("intra-op threads must be between 1 and 256");
        if (string.IsNullOrWhiteSpace(ContainerId))
            throw new ArgumentException("the container id must not be empty");
    }
}
