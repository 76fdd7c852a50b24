using Microsoft.Extensions.Logging;

namespace Slipway.Serving.Python;

/// <summary>The Python workers' log messages (source-generated).</summary>
internal static partial class WorkerLog
{
    [LoggerMessage(101, LogLevel.Information, "{Worker}: {Line}")]
    public static partial void Output(ILogger logger, string worker, string line);

    [LoggerMessage(102, LogLevel.Error, "{Worker}: the worker broke the protocol: {Error}")]
    public static partial void ProtocolError(ILogger logger, string worker, string error);

    [LoggerMessage(103, LogLevel.Warning, "{Endpoint} version {Version}: Python traceback:\n{Traceback}")]
    public static partial void Traceback(ILogger logger, string endpoint, long version, string traceback);

    [LoggerMessage(104, LogLevel.Information, "{Endpoint} version {Version}: {What}")]
    public static partial void Environment(ILogger logger, string endpoint, long version, string what);
}
