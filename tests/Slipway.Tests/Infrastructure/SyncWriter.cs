using System.Text;

namespace Slipway.Tests.Infrastructure;

/// <summary>A thread-safe captured stdout that a test can wait on while a command is still running.</summary>
public sealed class SyncWriter : StringWriter
{
    private readonly Lock _gate = new();

    public override void Write(char value)
    {
        lock (_gate)
            base.Write(value);
    }

    public override void Write(string? value)
    {
        lock (_gate)
            base.Write(value);
    }

    public override void WriteLine(string? value)
    {
        lock (_gate)
            base.WriteLine(value);
    }

    public override string ToString()
    {
        lock (_gate)
            return base.ToString();
    }

    public override StringBuilder GetStringBuilder() => throw new NotSupportedException("use ToString");

    /// <summary>Waits until the output contains <paramref name="text"/>; fails after a minute.</summary>
    public async Task WaitForAsync(string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (!ToString().Contains(text, StringComparison.Ordinal))
            await Task.Delay(20, timeout.Token);
    }
}
