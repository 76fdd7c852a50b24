using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Slipway.Client;

/// <summary>
/// The client's spans and instruments, named "Slipway.Client" so an application's OpenTelemetry setup picks
/// them up with <c>AddSource("Slipway.Client")</c> and <c>AddMeter("Slipway.Client")</c>.
/// </summary>
internal static class ClientTelemetry
{
    public const string Name = "Slipway.Client";

    public static readonly ActivitySource Source = new(Name, typeof(ClientTelemetry).Assembly.GetName().Version?.ToString());

    private static readonly Meter Meter = new(Name, typeof(ClientTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>Each call from its first attempt to its answer, retries and sign-ins included.</summary>
    public static readonly Histogram<double> CallDuration = Meter.CreateHistogram<double>(
        "slipway.client.call.duration", unit: "s", description: "API calls, from the first attempt to the answer, by endpoint and outcome");

    /// <summary>Attempts that failed in a way worth retrying (no answer, 502/503/504/429).</summary>
    public static readonly Counter<long> Retries = Meter.CreateCounter<long>(
        "slipway.client.retries", description: "attempts retried after a transient failure, by endpoint");

    /// <summary>Sign-ins after an expired or revoked token.</summary>
    public static readonly Counter<long> Relogins = Meter.CreateCounter<long>(
        "slipway.client.relogins", description: "sign-ins again after the server refused the token");

    /// <summary>The outcome tag: "ok", the envelope's result code, or "unreachable".</summary>
    public static void Record(Activity? activity, string endpoint, long startedAt, string outcome, int? resultCode)
    {
        CallDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds,
            new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("outcome", outcome));
        if (activity is null)
            return;
        if (resultCode is { } code)
            activity.SetTag("slipway.result_code", code);
        if (outcome != "ok")
            activity.SetStatus(ActivityStatusCode.Error, outcome);
    }
}
