using Microsoft.Extensions.Logging;

namespace Slipway.Serving;

/// <summary>The inference host's log messages (source-generated).</summary>
internal static partial class ServingLog
{
    [LoggerMessage(1, LogLevel.Information, "Serving on {Url} as {Container}")]
    public static partial void Listening(ILogger logger, string url, string container);

    [LoggerMessage(2, LogLevel.Information, "Loading {Endpoint} version {Version} (model {Model})")]
    public static partial void Loading(ILogger logger, string endpoint, long version, string model);

    [LoggerMessage(3, LogLevel.Information, "{Endpoint} version {Version} is ready on {Device} ({Milliseconds} ms)")]
    public static partial void Ready(ILogger logger, string endpoint, long version, string device, long milliseconds);

    [LoggerMessage(4, LogLevel.Warning, "{Endpoint} version {Version} failed to load: {Reason}")]
    public static partial void LoadFailed(ILogger logger, string endpoint, long version, string reason);

    [LoggerMessage(5, LogLevel.Information, "{Endpoint} version {Version} removed after draining")]
    public static partial void Drained(ILogger logger, string endpoint, long version);

    [LoggerMessage(6, LogLevel.Warning, "The server cannot be reached ({What}): {Error}; retrying")]
    public static partial void ServerUnreachable(ILogger logger, string what, string error);

    [LoggerMessage(7, LogLevel.Error, "{Endpoint} version {Version}: inference failed: {Error}")]
    public static partial void InferenceFailed(ILogger logger, string endpoint, long version, string error);

    [LoggerMessage(9, LogLevel.Information, "ONNX Runtime {Version} with {Providers}; ONNX versions run on {Device}")]
    public static partial void Runtime(ILogger logger, string version, string providers, string device);

    [LoggerMessage(10, LogLevel.Warning, "{Endpoint} version {Version} runs on the CPU: {Why}")]
    public static partial void DeviceFallback(ILogger logger, string endpoint, long version, string why);

    [LoggerMessage(8, LogLevel.Warning, "The request log of endpoint {Endpoint} could not be written ({Records} records kept for the next attempt): {Error}")]
    public static partial void RequestLogFailed(ILogger logger, string endpoint, int records, string error);
}
