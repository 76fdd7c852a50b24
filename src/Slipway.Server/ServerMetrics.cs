using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Slipway.Server;

/// <summary>
/// Counts API calls per endpoint and outcome, for /metrics (Prometheus text format) and for OpenTelemetry
/// listeners through the "Slipway.Server" meter.
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    public const string MeterName = "Slipway.Server";
    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _calls;
    private readonly Histogram<double> _duration;
    private readonly ConcurrentDictionary<(string Endpoint, int Code), Tally> _tallies = new();
    private long _eventsAdded;
    private long _fileBytesServed;
    private long _fileBytesStored;

    public ServerMetrics()
    {
        _calls = _meter.CreateCounter<long>("slipway.api.calls");
        _duration = _meter.CreateHistogram<double>("slipway.api.duration", "s");
    }

    private sealed class Tally
    {
        public long Count;
        public long Ticks;
    }

    public void RecordCall(string endpoint, int code, TimeSpan elapsed)
    {
        var tally = _tallies.GetOrAdd((endpoint, code), _ => new Tally());
        Interlocked.Increment(ref tally.Count);
        Interlocked.Add(ref tally.Ticks, elapsed.Ticks);
        _calls.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("code", code));
        _duration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("endpoint", endpoint));
    }

    public void RecordEvents(long count) => Interlocked.Add(ref _eventsAdded, count);

    public void RecordFileBytesServed(long bytes) => Interlocked.Add(ref _fileBytesServed, bytes);

    public void RecordFileBytesStored(long bytes) => Interlocked.Add(ref _fileBytesStored, bytes);

    public string ToPrometheus()
    {
        var text = new StringBuilder();
        text.Append("# HELP slipway_api_calls_total API calls by endpoint and result code.\n# TYPE slipway_api_calls_total counter\n");
        foreach (var ((endpoint, code), tally) in _tallies.OrderBy(t => t.Key.Endpoint, StringComparer.Ordinal))
            text.Append(CultureInfo.InvariantCulture, $"slipway_api_calls_total{{endpoint=\"{endpoint}\",code=\"{code}\"}} {tally.Count}\n");
        text.Append("# HELP slipway_api_call_seconds_total Time spent answering API calls.\n# TYPE slipway_api_call_seconds_total counter\n");
        foreach (var ((endpoint, code), tally) in _tallies.OrderBy(t => t.Key.Endpoint, StringComparer.Ordinal))
            text.Append(CultureInfo.InvariantCulture, $"slipway_api_call_seconds_total{{endpoint=\"{endpoint}\",code=\"{code}\"}} {TimeSpan.FromTicks(tally.Ticks).TotalSeconds:R}\n");
        text.Append("# HELP slipway_events_added_total Events stored.\n# TYPE slipway_events_added_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"slipway_events_added_total {Interlocked.Read(ref _eventsAdded)}\n");
        text.Append("# HELP slipway_file_bytes_served_total Bytes of file content the file server sent.\n# TYPE slipway_file_bytes_served_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"slipway_file_bytes_served_total {Interlocked.Read(ref _fileBytesServed)}\n");
        text.Append("# HELP slipway_file_bytes_stored_total Bytes of file content the file server stored.\n# TYPE slipway_file_bytes_stored_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"slipway_file_bytes_stored_total {Interlocked.Read(ref _fileBytesStored)}\n");
        text.Append("# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"process_resident_memory_bytes {Environment.WorkingSet}\n");
        return text.ToString();
    }

    public void Dispose() => _meter.Dispose();
}
