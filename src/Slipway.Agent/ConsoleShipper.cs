using System.Text;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Agent;

/// <summary>
/// Sends a task's console output to its log as it arrives: text gathered for at most the flush interval goes
/// out in one <c>events.add_batch</c>. When the server cannot be reached the text is kept (up to a limit,
/// oldest dropped first with a note) and sent once it answers again.
/// Events hold whole lines, as a terminal shows them: a carriage-return redraw (tqdm) is collapsed to what was drawn
/// last, and a line still being drawn waits for its end, or goes out as it stands once it has waited the open-line
/// interval (then again at its end), so a long progress bar reads as a few lines, not one piece per flush.
/// </summary>
internal sealed class ConsoleShipper : IAsyncDisposable
{
    private const int MaxBuffered = 16 * 1024 * 1024;
    private const int MaxEventChars = 64 * 1024;
    private readonly SlipwayClient _client;
    private readonly string _taskId;
    private readonly string _worker;
    private readonly TimeSpan _interval;
    private readonly Lock _gate = new();
    private readonly List<(long Time, string Text)> _pending = [];
    private readonly StringBuilder _current = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly TimeSpan _openLineInterval;
    private long _currentTime;
    private long _openSince; // when the unterminated line at the end of _current was last sent, or begun
    private bool _closing;
    private int _bufferedChars;
    private long _dropped;

    public ConsoleShipper(SlipwayClient client, string taskId, string worker, TimeSpan interval, TimeSpan? openLineInterval = null)
    {
        _openLineInterval = openLineInterval ?? TimeSpan.FromSeconds(10);
        _client = client;
        _taskId = taskId;
        _worker = worker;
        _interval = interval;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Queues console text (any size, any split); it is sent within the flush interval.</summary>
    public void Write(string text)
    {
        lock (_gate)
        {
            if (_current.Length == 0)
                _currentTime = _openSince = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _current.Append(text);
            _bufferedChars += text.Length;
            if (_current.Length >= MaxEventChars)
                CutCurrent(wholeTail: true);
            while (_bufferedChars > MaxBuffered && _pending.Count > 0)
            {
                _bufferedChars -= _pending[0].Text.Length;
                _dropped += _pending[0].Text.Length;
                _pending.RemoveAt(0);
            }
        }
    }

    /// <summary>Writes a line of the agent's own (e.g. "task pulled", "environment ready"), on a line of its own.</summary>
    public void WriteLine(string line)
    {
        lock (_gate)
            Write(_current.Length > 0 && _current[^1] != '\n' ? "\n" + line + "\n" : line + "\n");
    }

    /// <summary>Sends everything written so far; false when the server could not be reached (the text is kept for the next try).</summary>
    public async Task<bool> FlushAsync(CancellationToken ct)
    {
        List<(long Time, string Text)> batch;
        long dropped;
        lock (_gate)
        {
            CutCurrent(wholeTail: _closing || DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - _openSince >= (long)_openLineInterval.TotalMilliseconds);
            if (_pending.Count == 0 && _dropped == 0)
                return true;
            batch = [.. _pending];
            dropped = _dropped;
        }
        var requests = new JsonArray();
        if (dropped > 0)
            requests.Add(Event(batch.Count > 0 ? batch[0].Time : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), $"[slipway agent: {dropped} characters of output were dropped while the server could not be reached]\n"));
        foreach (var (time, text) in batch)
            requests.Add(Event(time, text));
        try
        {
            await _client.CallAsync("events.add_batch", new JsonObject { ["requests"] = requests }, ct).ConfigureAwait(false);
        }
        catch (SlipwayException e) when (Resilient.IsUnreachable(e))
        {
            return false;
        }
        catch (SlipwayException)
        {
            // The server answered with an error (e.g. the task was deleted): sending it again would not help.
        }
        lock (_gate)
        {
            _pending.RemoveRange(0, batch.Count);
            _bufferedChars -= batch.Sum(b => b.Text.Length);
            _dropped -= dropped;
        }
        return true;
    }

    private JsonObject Event(long time, string text) => new()
    {
        ["type"] = "log",
        ["task"] = _taskId,
        ["worker"] = _worker,
        ["level"] = "info",
        ["msg"] = text,
        ["timestamp"] = time,
    };

    /// <summary>
    /// Moves the whole lines written so far into an event; an unterminated last line stays (collapsed) for more, unless
    /// <paramref name="wholeTail"/>, when it goes out as it stands and stays to be sent again once it ends.
    /// </summary>
    private void CutCurrent(bool wholeTail = false)
    {
        if (_current.Length == 0)
            return;
        var text = _current.ToString();
        var lines = text.Split('\n');
        var shown = new StringBuilder(text.Length + 1);
        for (var i = 0; i < lines.Length - 1; i++)
            shown.Append(ConsoleText.AsShown(lines[i])).Append('\n');
        var tail = ConsoleText.AsShown(lines[^1]);
        if (wholeTail && tail.Length > 0)
        {
            shown.Append(tail).Append('\n');
            _openSince = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        }
        _current.Clear();
        if (tail.Length > 0 && !_closing && tail.Length < MaxEventChars) // a line that long is sent in pieces, each once
            _current.Append(tail);
        _bufferedChars += shown.Length + _current.Length - text.Length;
        if (shown.Length > 0)
            _pending.Add((_currentTime, shown.ToString()));
        _currentTime = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    }

    private async Task LoopAsync()
    {
        var backoff = _interval;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(backoff, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var sent = await FlushAsync(_stop.Token).ConfigureAwait(false);
            backoff = sent ? _interval : TimeSpan.FromSeconds(Math.Min(5, backoff.TotalSeconds * 2));
        }
    }

    /// <summary>Stops the background sending; call <see cref="FlushAsync"/> after it for the last of the output.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
            _closing = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
