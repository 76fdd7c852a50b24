namespace Slipway.Autoscaler;

/// <summary>
/// Worker ids of autoscaled agents are <c>{scaler}:{resource}:{launch id}:…</c>; the agent appends its slot. The launch id,
/// not the provider's instance id, is the identity because it is known before the provider answers.
/// </summary>
public static class WorkerIdentity
{
    public static string Prefix(string scaler, string resource, string launchId) => $"{scaler}:{resource}:{launchId}";

    /// <summary>The launch id a worker belongs to, or null when the worker is not this autoscaler's.</summary>
    public static string? LaunchIdOf(string scaler, string workerId)
    {
        var parts = workerId.Split(':');
        return parts.Length >= 4 && parts[0] == scaler ? parts[2] : null;
    }
}
