using System.Collections.Concurrent;
using System.Diagnostics;

namespace Slipway.TestSupport;

/// <summary>
/// Records the spans of the named activity sources that end while it lives, every one sampled, as an application's
/// OpenTelemetry setup would see them. A filter picks which to keep: a source may be listened to only
/// for its effect (ASP.NET Core continues a caller's trace only when someone listens).
/// </summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;

    public SpanRecorder(string[] sources, Func<Activity, bool>? keep = null)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                if (keep?.Invoke(span) ?? true)
                    _spans.Enqueue(span);
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Spans => [.. _spans];

    /// <summary>The first recorded span that matches, waiting for it: a span ends once its answer is written, which the caller may read first.</summary>
    public async Task<Activity> WaitForAsync(Func<Activity, bool> match, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            if (_spans.FirstOrDefault(match) is { } span)
                return span;
            await Task.Delay(50, deadline.Token);
        }
    }

    public void Dispose() => _listener.Dispose();
}
