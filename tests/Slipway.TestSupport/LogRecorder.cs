using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Slipway.TestSupport;

/// <summary>Keeps what Slipway's own loggers write at Information and above, so a test can check that an event was logged.</summary>
public sealed class LogRecorder : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>Adds this recorder to a logging builder, for Slipway's categories only (the framework's stay silent).</summary>
    public void AddTo(ILoggingBuilder builder) =>
        builder.AddProvider(this).AddFilter((category, level) => category?.StartsWith("Slipway.", StringComparison.Ordinal) == true && level >= LogLevel.Information);

    public bool Contains(LogLevel level, string text) => _entries.Any(e => e.Level == level && e.Message.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Recorder(LogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new LogEntry(category, logLevel, formatter(state, exception)));
    }
}

public sealed record LogEntry(string Category, LogLevel Level, string Message);
