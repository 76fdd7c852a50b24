using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Client.Datasets;

namespace Slipway.Serving;

/// <summary>How an endpoint's sampled requests are kept: the share logged, and when a batch becomes a dataset version.</summary>
public sealed record RequestLogSettings(double Sample, int MaxRecords, TimeSpan MaxAge, string Project, string Dataset)
{
    /// <summary>The endpoint's <c>request_log</c> setting; null when it has none (or an empty one).</summary>
    public static RequestLogSettings? From(JsonNode? node, string endpointName) => node is JsonObject o
        ? new RequestLogSettings(
            o["sample"]?.GetValue<double>() ?? 1,
            (int)(o["max_records"]?.GetValue<long>() ?? 1000),
            TimeSpan.FromSeconds(o["max_seconds"]?.GetValue<double>() ?? 60),
            o["project"]?.GetValue<string>() is { Length: > 0 } project ? project : "serving",
            o["dataset"]?.GetValue<string>() is { Length: > 0 } dataset ? dataset : endpointName + "-requests")
        : null;
}

/// <summary>
/// The retraining loop's first half: a sample of each endpoint's requests (input, output, version, latency, status) kept in
/// memory and written, every <see cref="RequestLogSettings.MaxRecords"/> records or <see cref="RequestLogSettings.MaxAge"/>,
/// as a new version of a dataset (one JSON-lines file per batch, each version starting from the latest), so the next
/// training run reads what production saw with <c>Dataset.get</c>. A batch that cannot be written is kept for the next
/// attempt, up to a bound, past which the oldest records are dropped and counted.
/// </summary>
public sealed class RequestLog(SlipwayClient client, string containerId, ILogger logger) : IAsyncDisposable
{
    private const int MaxBuffered = 100_000;
    private readonly ConcurrentDictionary<string, Buffer> _buffers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _writing = new(1, 1);
    private Task? _loop;
    private long _dropped;
    private long _versionsWritten;

    /// <summary>Dataset versions this host wrote.</summary>
    public long VersionsWritten => Interlocked.Read(ref _versionsWritten);

    /// <summary>Records dropped because the buffer was full while the server could not take them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    private sealed class Buffer(RequestLogSettings settings)
    {
        public RequestLogSettings Settings { get; set; } = settings;
        public ConcurrentQueue<string> Records { get; } = new();
        public DateTime Since { get; set; } = DateTime.UtcNow;
    }

    /// <summary>Whether this request is in the sample (decided before it is answered, so only sampled answers are captured).</summary>
    public static bool Sampled(RequestLogSettings? settings) => settings is { Sample: > 0 } s && (s.Sample >= 1 || Random.Shared.NextDouble() < s.Sample);

    public void Record(EndpointRoute route, RequestLogSettings settings, long version, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output, int status, TimeSpan latency)
    {
        var buffer = _buffers.GetOrAdd(route.Id, _ => new Buffer(settings));
        buffer.Settings = settings;
        var record = new JsonObject
        {
            ["time"] = DateTimeOffset.UtcNow.ToString("O"),
            ["endpoint"] = route.Name,
            ["version"] = version,
            ["status"] = status,
            ["latency_ms"] = Math.Round(latency.TotalMilliseconds, 3),
            ["host"] = containerId,
            ["input"] = Body(input),
            ["output"] = Body(output),
        };
        buffer.Records.Enqueue(record.ToJsonString());
        while (buffer.Records.Count > MaxBuffered && buffer.Records.TryDequeue(out _))
            Interlocked.Increment(ref _dropped);
        if (buffer.Records.Count >= settings.MaxRecords)
            _ = FlushAsync(route.Id);
    }

    /// <summary>JSON stays JSON; anything else (tensor bytes, an image) is kept as base64.</summary>
    private static JsonNode? Body(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return null;
        var reader = new Utf8JsonReader(bytes);
        if (JsonNode.Parse(ref reader) is { } parsed && reader.BytesConsumed == bytes.Length)
            return parsed;
        return new JsonObject { ["base64"] = Convert.ToBase64String(bytes) };
    }

    public void Start() => _loop = Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                foreach (var (id, buffer) in _buffers)
                {
                    if (!buffer.Records.IsEmpty && DateTime.UtcNow - buffer.Since >= buffer.Settings.MaxAge)
                        await FlushAsync(id);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    });

    /// <summary>Writes what one endpoint's buffer holds as the next version of its dataset.</summary>
    public async Task FlushAsync(string endpointId, CancellationToken ct = default)
    {
        if (!_buffers.TryGetValue(endpointId, out var buffer) || buffer.Records.IsEmpty)
            return;
        await _writing.WaitAsync(ct);
        var taken = new List<string>();
        try
        {
            while (buffer.Records.TryDequeue(out var record))
                taken.Add(record);
            if (taken.Count == 0)
                return;
            buffer.Since = DateTime.UtcNow;
            var settings = buffer.Settings;
            var folder = Path.Combine(Path.GetTempPath(), $"slipway-request-log-{Guid.NewGuid():N}");
            Directory.CreateDirectory(folder);
            try
            {
                var file = Path.Combine(folder, $"requests-{DateTime.UtcNow:yyyyMMdd-HHmmss-fff}-{containerId}.jsonl");
                // UTF-8 without a byte order mark: each line is JSON, which Python's json.loads refuses after a BOM.
                await File.WriteAllTextAsync(file, string.Join('\n', taken) + "\n", ct);
                var existing = await client.Datasets.ListVersionsAsync(settings.Project, settings.Dataset, ct);
                var parent = existing.Where(v => v.IsFinal).Select(v => v.Id).LastOrDefault();
                var version = await client.Datasets.CreateAsync(settings.Project, settings.Dataset,
                    new DatasetCreateOptions { Parents = parent is null ? null : [parent], Tags = ["request-log"], Description = $"{taken.Count} requests logged by {containerId}" }, ct);
                await version.AddFilesAsync(file, datasetFolder: "requests", cancellationToken: ct);
                await version.UploadAsync(cancellationToken: ct);
                await version.FinalizeAsync(ct);
                Interlocked.Increment(ref _versionsWritten);
                taken.Clear();
            }
            finally
            {
                Directory.Delete(folder, true);
            }
        }
        catch (Exception e) when (e is SlipwayException or IOException or HttpRequestException)
        {
            ServingLog.RequestLogFailed(logger, endpointId, taken.Count, e.Message);
        }
        finally
        {
            // What could not be written goes back for the next attempt.
            foreach (var record in taken)
                buffer.Records.Enqueue(record);
            _writing.Release();
        }
    }

    /// <summary>Stops the timer and writes what is left.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
            await _loop;
        foreach (var id in _buffers.Keys)
            await FlushAsync(id);
        _stop.Dispose();
    }
}
