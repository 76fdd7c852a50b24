using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Slipway.Metrics;
using Slipway.Serving.Python;

namespace Slipway.Serving;

/// <summary>
/// The host's instruments, on its own "Slipway.Serving" meter: requests, errors and latency per endpoint version, whether
/// each version serves, refusals, dropped shadow copies, Python code's custom statistics and what the endpoints' metric
/// rules measured. /metrics is OpenTelemetry's Prometheus exporter reading this meter, followed by the metric rules' scalar
/// histograms (see <see cref="UserMetrics.AppendScalars"/> for why those are written here). Counts that the status reports
/// also send (requests, errors, custom statistics) are read from the versions, so both show the same numbers.
/// </summary>
internal sealed class ServingMetrics : IDisposable
{
    public const string MeterName = "Slipway.Serving";
    public const string Path = "/metrics";

    /// <summary>From 0.1 ms (a small model on a CPU) to 10 s (a large one, or Python code that calls out).</summary>
    private static readonly double[] RequestSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Func<IEnumerable<ServedVersion>> _versions;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _refused;
    private long _shadowsDropped;

    /// <param name="versions">The versions this host serves now, read at each scrape.</param>
    public ServingMetrics(Func<IEnumerable<ServedVersion>> versions)
    {
        _versions = versions;
        Meter.CreateObservableCounter("slipway.serving.requests", () => PerVersion(v => v.Stats.Requests),
            description: "Inference requests answered, by endpoint and version.");
        Meter.CreateObservableCounter("slipway.serving.errors", () => PerVersion(v => v.Stats.Errors),
            description: "Inference requests that failed (bad input or model error).");
        _duration = Meter.CreateHistogram("slipway.serving.request", "s", "Inference request latency.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = RequestSeconds });
        Meter.CreateObservableGauge("slipway.serving.version.ready", () => PerVersion(v => v.State == VersionState.Ready ? 1 : 0),
            description: "1 when the version serves, 0 while loading or failed.");
        _refused = Meter.CreateCounter<long>("slipway.serving.refused",
            description: "Requests refused before inference (unknown endpoint, key, size, no ready version).");
        Meter.CreateObservableCounter("slipway.serving.shadow.dropped", () => Interlocked.Read(ref _shadowsDropped),
            description: "Copies for shadow versions dropped because too many were in flight.");

        // A sum of numbers that may be negative can go down: a gauge, not a counter.
        Meter.CreateObservableGauge("slipway.serving.custom.sum", () => Custom<double>((labels, c) => c.Count > 0 ? [new(c.Sum, labels)] : []),
            description: "Sum of the numbers Preprocess code collected (collect_custom_statistics_fn).");
        Meter.CreateObservableCounter("slipway.serving.custom.count", () => Custom<long>((labels, c) => c.Count > 0 ? [new(c.Count, labels)] : []),
            description: "How many numbers Preprocess code collected.");
        Meter.CreateObservableGauge("slipway.serving.custom.last", () => Custom<double>((labels, c) => c.Count > 0 ? [new(c.Last, labels)] : []),
            description: "The last number Preprocess code collected.");
        Meter.CreateObservableCounter("slipway.serving.custom.values", () => Custom<long>((labels, c) => c.Values.Select(v => new Measurement<long>(v.Count, [.. labels, new("value", v.Value)]))),
            description: "Other values Preprocess code collected, counted per value.");

        Meter.CreateObservableCounter("slipway.serving.metric.sampled", () => _versions().Where(v => v.Metrics.Sampled > 0).Select(v => new Measurement<long>(v.Metrics.Sampled, Labels(v))),
            description: "Requests measured by the endpoint's metric rule (a share of all, its log frequency).");
        Meter.CreateObservableCounter("slipway.serving.metric.enum", () => Rule<long>("enum", (labels, m) => m.Values.Select(v => new Measurement<long>(v.Count, [.. labels, new("value", v.Value)]))),
            description: "An enum variable of the metric rule, counted per value (unlisted values as _other).");
        Meter.CreateObservableGauge("slipway.serving.metric.value", () => Rule<double>("value", (labels, m) => m.Last is { } last ? [new(last, labels)] : []),
            description: "A value variable of the metric rule: its last value.");
        Meter.CreateObservableCounter("slipway.serving.metric.counter", () => Rule<double>("counter", (labels, m) => [new(m.Sum, labels)]),
            description: "A counter variable of the metric rule: the sum of its values.");
    }

    /// <summary>This host's own meter: several hosts in one process (tests) each export only theirs.</summary>
    public Meter Meter { get; } = new(MeterName);

    /// <summary>Counts an answered request (or shadow copy) in the version's statistics and its latency in the histogram.</summary>
    public void RecordRequest(ServedVersion version, TimeSpan elapsed, bool failed)
    {
        version.Stats.Record(elapsed, failed);
        _duration.Record(elapsed.TotalSeconds, Labels(version));
    }

    public void RecordRefused(string endpoint, int status) =>
        _refused.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("code", status));

    public void RecordShadowDropped() => Interlocked.Increment(ref _shadowsDropped);

    public void AddTo(IServiceCollection services) =>
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService("slipway-serving")).WithMetrics(meters => meters
            .AddMeter(MeterName)
            // Every meter of that name in the process is offered; another host's (tests) is not ours to show.
            .AddView(instrument => ReferenceEquals(instrument.Meter, Meter) ? null : MetricStreamConfiguration.Drop)
            // Each scrape is current: the exporter's cache would answer a scrape right after a request without it.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

    /// <summary>/metrics: the exporter's text, then the metric rules' scalar histograms.</summary>
    public void Map(WebApplication app) =>
        app.MapPrometheusScrapingEndpoint(Path, meterProvider: null!,
            configureBranchedPipeline: branch => branch.Use((http, next) => ExporterText.WriteAsync(http, next, () => Task.FromResult(Scalars()))),
            optionsName: null!);

    /// <summary>The metric rules' scalar variables, in the Prometheus text format.</summary>
    private string Scalars()
    {
        var series = new StringBuilder();
        foreach (var v in _versions().OrderBy(v => v.EndpointName, StringComparer.Ordinal).ThenBy(v => v.Number))
            v.Metrics.AppendScalars($"endpoint=\"{ServingHost.Escape(v.EndpointName)}\",version=\"{v.Number.ToString(CultureInfo.InvariantCulture)}\"", series);
        return series.Length == 0 ? ""
            : "# HELP slipway_serving_metric_scalar A scalar variable of the metric rule, over its buckets.\n# TYPE slipway_serving_metric_scalar histogram\n" + series;
    }

    private static KeyValuePair<string, object?>[] Labels(ServedVersion v) =>
        [new("endpoint", v.EndpointName), new("version", v.Number)];

    private IEnumerable<Measurement<long>> PerVersion(Func<ServedVersion, long> value) =>
        _versions().Select(v => new Measurement<long>(value(v), Labels(v)));

    private IEnumerable<Measurement<T>> Custom<T>(Func<KeyValuePair<string, object?>[], CustomStatistics.Totals, IEnumerable<Measurement<T>>> measure)
        where T : struct =>
        _versions().SelectMany(v => v.Custom.Snapshot().SelectMany(c => measure([.. Labels(v), new("variable", c.Name)], c)));

    private IEnumerable<Measurement<T>> Rule<T>(string type, Func<KeyValuePair<string, object?>[], MeasuredVariable, IEnumerable<Measurement<T>>> measure)
        where T : struct =>
        _versions().SelectMany(v => v.Metrics.Snapshot().Where(m => m.Type == type).SelectMany(m => measure([.. Labels(v), new("variable", m.Name)], m)));

    public void Dispose() => Meter.Dispose();
}
