using System.Diagnostics;
using System.Globalization;

namespace Slipway.Commands;

/// <summary>
/// A transfer's progress on stderr: bar, percentage, bytes, throughput and time left, redrawn in place (carriage
/// return, no ANSI) at most ten times a second. Takes byte increments, as the client reports them. Made only
/// when stderr is a terminal (<see cref="Start"/> returns null otherwise), so redirected output stays clean.
/// </summary>
public sealed class ProgressBar : IProgress<long>, IDisposable
{
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);
    private readonly TextWriter _writer;
    private readonly string _label;
    private readonly long? _total;
    private readonly int _width;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private long _done;
    private TimeSpan? _lastDraw;
    private int _lastLength;
    private bool _finished;

    private ProgressBar(TextWriter writer, string label, long? total, int width)
    {
        _writer = writer;
        _label = label;
        _total = total;
        _width = width;
    }

    /// <summary>A bar for a transfer of <paramref name="total"/> bytes (null: unknown), or null when stderr is not a terminal.</summary>
    public static ProgressBar? Start(CliConsole console, string label, long? total) =>
        console.ErrorIsTerminal ? new ProgressBar(console.Error, label, total, console.Width) : null;

    public void Report(long value)
    {
        lock (_gate)
        {
            _done += value;
            var now = _clock.Elapsed;
            if (_lastDraw is not { } last || now - last >= RedrawInterval)
            {
                _lastDraw = now;
                Draw(Render(_label, _done, _total, now, _width));
            }
        }
    }

    /// <summary>Draws the final state and ends the line.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_finished)
                return;
            _finished = true;
            if (_done == 0 && _lastLength == 0)
                return; // nothing moved (a cached copy): no bar at all
            Draw(Render(_label, _done, _total ?? _done, _clock.Elapsed, _width, complete: true));
            _writer.WriteLine();
            _writer.Flush();
        }
    }

    /// <summary>Ends the line if the transfer did not complete (an error message follows on a fresh line).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_finished)
                return;
            _finished = true;
            if (_lastLength > 0)
                _writer.WriteLine();
        }
    }

    private void Draw(string line)
    {
        _writer.Write('\r' + line.PadRight(_lastLength));
        _writer.Flush();
        _lastLength = line.Length;
    }

    /// <summary>
    /// One line, at most <paramref name="width"/> - 1 characters:
    /// <c>model.onnx [=========>          ]  45%  12.3 MiB / 27.0 MiB  8.1 MiB/s  0:02 left</c>.
    /// </summary>
    public static string Render(string label, long done, long? total, TimeSpan elapsed, int width, bool complete = false)
    {
        // The first half second's rate is mostly connection set-up: no speed or time left until it settles.
        var rate = elapsed.TotalSeconds >= 0.5 || complete ? done / Math.Max(elapsed.TotalSeconds, 0.001) : 0;
        var speed = rate > 0 ? $"{Output.Bytes(rate)}/s" : "";
        string stats;
        string? bar = null;
        if (total is > 0 and var size)
        {
            var fraction = Math.Clamp((double)done / size, 0, 1);
            var secondsLeft = rate > 0 ? (size - done) / rate : double.PositiveInfinity;
            var left = complete ? $"in {Clock(elapsed)}" : secondsLeft < 100 * 3600 ? $"{Clock(TimeSpan.FromSeconds(secondsLeft))} left" : "";
            stats = $"{(int)(fraction * 100),3}%  {Output.Bytes(done)} / {Output.Bytes(size)}  {speed}  {left}".TrimEnd();
            var barWidth = Math.Min(30, width - 1 - label.Length - stats.Length - 5);
            if (barWidth >= 10)
            {
                var filled = (int)(fraction * barWidth);
                bar = "[" + new string('=', filled) + (filled < barWidth ? ">" + new string(' ', barWidth - filled - 1) : "") + "]";
            }
        }
        else
        {
            stats = $"{Output.Bytes(done)}  {speed}{(complete ? $"  in {Clock(elapsed)}" : "")}".TrimEnd();
        }
        var room = width - 1 - stats.Length - (bar is null ? 2 : bar.Length + 3);
        var name = room <= 0 ? "" : Output.Clip(label, Math.Max(room, 1));
        var line = bar is null ? $"{name}  {stats}" : $"{name} {bar}  {stats}";
        line = line.TrimStart();
        return line.Length < width ? line : line[..Math.Max(width - 1, 0)];
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
        : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
}
