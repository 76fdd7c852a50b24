using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>Every line the autoscaler logs, as its console would show it, for tests that check what it says (and never says).</summary>
public sealed class CapturedLog : ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public string Text => string.Join("\n", Lines);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
}
