using System.Diagnostics.Metrics;

namespace Slipway.Server;

/// <summary>
/// The server's instruments, on the "Slipway.Server" meter: API calls per endpoint and outcome, their duration, events
/// stored and file bytes moved. /metrics is OpenTelemetry's Prometheus exporter reading this meter (see
/// <see cref="MetricsEndpoint"/>); any other OpenTelemetry listener can read it too.
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    public const string MeterName = "Slipway.Server";

    /// <summary>From 1 ms (a cached read) to a minute (a large batch on a slow disk).</summary>
    private static readonly double[] CallSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly Counter<long> _calls;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _eventsAdded;
    private readonly Counter<long> _fileBytesServed;
    private readonly Counter<long> _fileBytesStored;

    public ServerMetrics()
    {
        _calls = Meter.CreateCounter<long>("slipway.api.calls", description: "API calls by endpoint and result code.");
        _duration = Meter.CreateHistogram("slipway.api.duration", "s", "Time spent answering API calls.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CallSeconds });
        _eventsAdded = Meter.CreateCounter<long>("slipway.events.added", description: "Events stored.");
        _fileBytesServed = Meter.CreateCounter<long>("slipway.file.served", "By", "File content the file server sent.");
        _fileBytesStored = Meter.CreateCounter<long>("slipway.file.stored", "By", "File content the file server stored.");
        Meter.CreateObservableGauge("process.resident_memory", () => Environment.WorkingSet, "By", "Resident memory.");
    }

    /// <summary>This server's own meter: several servers in one process (tests, benchmarks) each export only theirs.</summary>
    public Meter Meter { get; } = new(MeterName);

    public void RecordCall(string endpoint, int code, TimeSpan elapsed)
    {
        _calls.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("code", code));
        _duration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("endpoint", endpoint));
    }

    public void RecordEvents(long count) => _eventsAdded.Add(count);

    public void RecordFileBytesServed(long bytes) => _fileBytesServed.Add(bytes);

    public void RecordFileBytesStored(long bytes) => _fileBytesStored.Add(bytes);

    public void Dispose() => Meter.Dispose();
}
