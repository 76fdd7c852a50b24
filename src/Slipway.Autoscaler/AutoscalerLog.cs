using Microsoft.Extensions.Logging;

namespace Slipway.Autoscaler;

/// <summary>The autoscaler's log messages (source-generated).</summary>
internal static partial class AutoscalerLog
{
    [LoggerMessage(1, LogLevel.Information, "Autoscaler {Scaler}: {Decision}")]
    public static partial void Decided(ILogger logger, string scaler, string decision);

    [LoggerMessage(2, LogLevel.Warning, "Autoscaler {Scaler}: a pass failed and is tried again at the next tick: {Error}")]
    public static partial void PassFailed(ILogger logger, string scaler, string error);

    [LoggerMessage(3, LogLevel.Warning, "Autoscaler {Scaler}: {What} failed: {Error}")]
    public static partial void ActionFailed(ILogger logger, string scaler, string what, string error);
}
