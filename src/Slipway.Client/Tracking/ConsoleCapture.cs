using System.Text;

namespace Slipway.Client.Tracking;

/// <summary>
/// Tees the process's stdout and stderr to the task's console: everything still prints locally, and complete
/// lines are gathered and reported in batches (one log event may hold many lines), stdout as <c>info</c> and
/// stderr as <c>error</c>.
/// </summary>
internal sealed class ConsoleCapture : IDisposable
{
    private const int MaxPendingChars = 64 * 1024;
    private readonly TextWriter _originalOut;
    private readonly TextWriter _originalError;
    private readonly Tee _out;
    private readonly Tee _error;

    public ConsoleCapture(ExperimentLog log)
    {
        _originalOut = Console.Out;
        _originalError = Console.Error;
        _out = new Tee(_originalOut, log, "info");
        _error = new Tee(_originalError, log, "error");
        Console.SetOut(_out);
        Console.SetError(_error);
    }

    /// <summary>Reports the lines gathered so far (a partial last line waits for its end, unless <paramref name="all"/>).</summary>
    public void Flush(bool all = false)
    {
        _out.Report(all);
        _error.Report(all);
    }

    public void Dispose()
    {
        Flush(all: true);
        if (ReferenceEquals(Console.Out, _out))
            Console.SetOut(_originalOut);
        if (ReferenceEquals(Console.Error, _error))
            Console.SetError(_originalError);
    }

    private sealed class Tee(TextWriter local, ExperimentLog log, string level) : TextWriter
    {
        private readonly StringBuilder _pending = new();
        private readonly Lock _gate = new();

        public override Encoding Encoding => local.Encoding;

        public override void Write(char value)
        {
            local.Write(value);
            Append(value.ToString());
        }

        public override void Write(string? value)
        {
            local.Write(value);
            Append(value);
        }

        public override void Write(char[] buffer, int index, int count)
        {
            local.Write(buffer, index, count);
            Append(new string(buffer, index, count));
        }

        public override void Write(ReadOnlySpan<char> buffer)
        {
            local.Write(buffer);
            Append(buffer.ToString());
        }

        public override void WriteLine(string? value)
        {
            local.WriteLine(value);
            Append(value + "\n");
        }

        public override void WriteLine() => WriteLine("");

        public override void Flush() => local.Flush();

        private void Append(string? text)
        {
            if (string.IsNullOrEmpty(text))
                return;
            bool full;
            lock (_gate)
            {
                _pending.Append(text);
                full = _pending.Length > MaxPendingChars;
            }
            if (full)
                Report(false);
        }

        public void Report(bool all)
        {
            string text;
            lock (_gate)
            {
                var end = all ? _pending.Length : LastNewline() + 1;
                if (end <= 0)
                    return;
                text = _pending.ToString(0, end);
                _pending.Remove(0, end);
            }
            log.Text(text.TrimEnd('\n'), level);
        }

        private int LastNewline()
        {
            for (var i = _pending.Length - 1; i >= 0; i--)
                if (_pending[i] == '\n')
                    return i;
            return _pending.Length > MaxPendingChars ? _pending.Length - 1 : -1;
        }
    }
}
