using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Slipway.Client.Tracking;

/// <summary>
/// Collects a task's events (scalars, console text, plots, debug images) and sends them in the background as
/// <c>events.add_batch</c> json-lines requests, so reporting never waits for the network. A scalar costs the
/// caller a dictionary lookup and a 24-byte append under an uncontended lock; its JSON is written by the
/// sender. Nothing is dropped: a failed batch is kept and sent again; when more than
/// <see cref="ExperimentOptions.MaxQueuedEvents"/> are waiting, reporting blocks until the sender catches up.
/// </summary>
internal sealed class EventBatcher : IAsyncDisposable
{
    private const int SegmentSize = 65_536;
    private const int MaxRequestBytes = 8 << 20;
    private const int MaxSpareSegments = 16;

    private readonly SlipwayClient _client;
    private readonly string _taskId;
    private readonly int _maxQueued;
    private readonly TimeSpan _interval;
    private readonly Action<string> _warn;
    private readonly byte[] _taskPrefix;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Metric, string Variant), int> _seriesIds = [];
    private readonly List<byte[]> _seriesPrefixes = [];
    private readonly long _startMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - Environment.TickCount64;

    // Guarded by _gate.
    private Segment _current = new();
    private List<Segment> _full = [];
    private List<byte[]> _others = [];
    private long _queued;
    private long _enqueued;
    private readonly Stack<Segment> _spare = new();

    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sender;
    private long _sent;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public EventBatcher(SlipwayClient client, string taskId, int maxQueued, TimeSpan interval, Action<string> warn)
    {
        _client = client;
        _taskId = taskId;
        _maxQueued = maxQueued;
        _interval = interval;
        _warn = warn;
        _taskPrefix = Encoding.UTF8.GetBytes($"{{\"task\":{JsonSerializer.Serialize(taskId)},");
        _sender = Task.Run(SendLoopAsync);
    }

    /// <summary>Events accepted but not yet acknowledged by the server.</summary>
    public long Pending => Interlocked.Read(ref _enqueued) - Interlocked.Read(ref _sent);

    public void Scalar(string metric, string variant, double value, long iteration)
    {
        var now = Environment.TickCount64;
        lock (_gate)
        {
            if (!_seriesIds.TryGetValue((metric, variant), out var series))
                series = AddSeries(metric, variant);
            var segment = _current;
            if (segment.Count == SegmentSize)
                segment = NextSegment();
            if (segment.Count == 0)
                segment.BaseTick = now;
            segment.Items[segment.Count++] = new ScalarRecord(iteration, value, series, (int)(now - segment.BaseTick));
            _queued++;
            _enqueued++;
        }
    }

    /// <summary>Queues an event that is already a JSON object (without the task field, which is added here).</summary>
    public void Other(ReadOnlySpan<byte> eventJsonWithoutTask)
    {
        var line = new byte[_taskPrefix.Length + eventJsonWithoutTask.Length - 1];
        _taskPrefix.CopyTo(line, 0);
        eventJsonWithoutTask[1..].CopyTo(line.AsSpan(_taskPrefix.Length));
        lock (_gate)
        {
            WaitForRoom();
            _others.Add(line);
            _queued++;
            _enqueued++;
        }
    }

    public long NowMs() => _startMs + Environment.TickCount64;

    /// <summary>Waits until every event queued before the call has reached the server.</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        long target;
        lock (_gate)
            target = _enqueued;
        if (Interlocked.Read(ref _sent) >= target)
            return;
        _wake.Release(); // send what is buffered now rather than at the next interval
        while (true)
        {
            // The sender counts a batch as sent before it completes the progress task it replaces, so reading the
            // task first and the count second never misses a wake-up.
            var progress = Volatile.Read(ref _progress);
            if (Interlocked.Read(ref _sent) >= target)
                return;
            await progress.Task.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    private int AddSeries(string metric, string variant)
    {
        var id = _seriesPrefixes.Count;
        _seriesIds[(metric, variant)] = id;
        _seriesPrefixes.Add(Encoding.UTF8.GetBytes(
            $"{{\"type\":\"training_stats_scalar\",\"task\":{JsonSerializer.Serialize(_taskId)},\"metric\":{JsonSerializer.Serialize(metric)},\"variant\":{JsonSerializer.Serialize(variant)},\"iter\":"));
        return id;
    }

    private Segment NextSegment()
    {
        WaitForRoom();
        _full.Add(_current);
        _current = _spare.TryPop(out var spare) ? spare : new Segment();
        if (_full.Count == 1)
            _wake.Release();
        return _current;
    }

    private void WaitForRoom()
    {
        while (_queued >= _maxQueued && !_stop.IsCancellationRequested)
        {
            _wake.Release();
            _gate.Exit();
            try
            {
                Volatile.Read(ref _progress).Task.Wait(100);
            }
            finally
            {
                _gate.Enter();
            }
        }
    }

    private async Task SendLoopAsync()
    {
        var writer = new ArrayBufferWriter<byte>(1 << 20);
        while (true)
        {
            var stopping = _stop.IsCancellationRequested;
            if (!stopping)
            {
                try
                {
                    await _wake.WaitAsync(_interval, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    stopping = true;
                }
            }
            List<Segment> segments;
            List<byte[]> others;
            byte[][] prefixes;
            lock (_gate)
            {
                // The series taken so far, read once per pass rather than under the lock for every record.
                prefixes = [.. _seriesPrefixes];
                segments = _full;
                if (_current.Count > 0)
                {
                    segments.Add(_current);
                    _current = _spare.TryPop(out var spare) ? spare : new Segment();
                }
                _full = [];
                others = _others;
                _others = [];
            }
            await SendAsync(segments, others, prefixes, writer).ConfigureAwait(false);
            if (stopping && Pending == 0)
                return;
        }
    }

    private async Task SendAsync(List<Segment> segments, List<byte[]> others, byte[][] prefixes, ArrayBufferWriter<byte> writer)
    {
        var count = 0;
        async Task SendBufferAsync()
        {
            if (count == 0)
                return;
            await PostWithRetryAsync(writer.WrittenMemory).ConfigureAwait(false);
            lock (_gate)
                _queued -= count;
            Interlocked.Add(ref _sent, count);
            Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            writer.ResetWrittenCount();
            count = 0;
        }

        foreach (var line in others)
        {
            writer.Write(line);
            writer.Write("\n"u8);
            count++;
            if (writer.WrittenCount > MaxRequestBytes)
                await SendBufferAsync().ConfigureAwait(false);
        }
        foreach (var segment in segments)
        {
            for (var i = 0; i < segment.Count; i++)
            {
                WriteScalar(writer, segment.Items[i], prefixes[segment.Items[i].Series], segment.BaseTick);
                count++;
                if (writer.WrittenCount > MaxRequestBytes)
                    await SendBufferAsync().ConfigureAwait(false);
            }
        }
        await SendBufferAsync().ConfigureAwait(false);
        // Segments are 1.5 MB arrays; reusing a few keeps a fast reporter from churning the large object heap.
        lock (_gate)
        {
            foreach (var segment in segments)
            {
                if (_spare.Count >= MaxSpareSegments)
                    break;
                segment.Count = 0;
                _spare.Push(segment);
            }
        }
    }

    private void WriteScalar(ArrayBufferWriter<byte> writer, in ScalarRecord record, byte[] prefix, long baseTick)
    {
        var span = writer.GetSpan(prefix.Length + 96);
        prefix.CopyTo(span);
        var n = prefix.Length;
        Utf8Formatter.TryFormat(record.Iteration, span[n..], out var w);
        n += w;
        ",\"value\":"u8.CopyTo(span[n..]);
        n += 9;
        if (double.IsFinite(record.Value))
        {
            record.Value.TryFormat(span[n..], out w, "R", System.Globalization.CultureInfo.InvariantCulture);
            n += w;
        }
        else
        {
            "null"u8.CopyTo(span[n..]);
            n += 4;
        }
        ",\"timestamp\":"u8.CopyTo(span[n..]);
        n += 13;
        Utf8Formatter.TryFormat(_startMs + baseTick + record.Ms, span[n..], out w);
        n += w;
        "}\n"u8.CopyTo(span[n..]);
        writer.Advance(n + 2);
    }

    private async Task PostWithRetryAsync(ReadOnlyMemory<byte> body)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await _client.SendAsync("events.add_batch", body, "application/json-lines", CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (SlipwayException e) when (e.ResultCode is 0 or >= 500)
            {
                // The server is away: keep the batch and try again, more slowly, until it is back.
                if (attempt == 0)
                    _warn($"slipway: events not delivered yet, retrying: {e.Message}");
                await Task.Delay(_client.RetryDelay(Math.Min(attempt, 6))).ConfigureAwait(false);
            }
            catch (SlipwayException e)
            {
                _warn($"slipway: the server refused a batch of events: {e.Message}");
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _wake.Release();
        await _sender.ConfigureAwait(false);
        _stop.Dispose();
        _wake.Dispose();
    }

    /// <summary>24 bytes: the time is kept as milliseconds since the segment's first record (a segment is sent within seconds).</summary>
    private readonly record struct ScalarRecord(long Iteration, double Value, int Series, int Ms);

    private sealed class Segment
    {
        public readonly ScalarRecord[] Items = new ScalarRecord[SegmentSize];
        public int Count;
        public long BaseTick;
    }
}
