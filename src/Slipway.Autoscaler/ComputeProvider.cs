namespace Slipway.Autoscaler;

/// <summary>
/// Where instances come from (local processes, cloud VMs, pods). Deliberately small: the reconciler keeps every rule,
/// so a provider only launches with an identity, lists what carries the autoscaler's tag, and terminates.
/// </summary>
public interface IComputeProvider
{
    /// <summary>The name resources use in the configuration ("local", "ec2", …).</summary>
    string Name { get; }

    /// <summary>Starts one instance whose agent reports as <see cref="LaunchRequest.WorkerPrefix"/>; returns the provider's instance id.</summary>
    /// <exception cref="OfferingUnavailableException">The offering has no capacity now; the reconciler backs it off and tries the next.</exception>
    Task<string> LaunchAsync(LaunchRequest request, CancellationToken ct);

    /// <summary>Every instance tagged with the autoscaler's name, whatever the autoscaler remembers.</summary>
    Task<IReadOnlyList<ProviderInstance>> ListAsync(string scaler, CancellationToken ct);

    /// <summary>Terminates an instance; one already gone is not an error.</summary>
    Task TerminateAsync(string instanceId, CancellationToken ct);
}

/// <summary>One launch: the identity the instance carries (tags, worker prefix) and what it should run.</summary>
public sealed record LaunchRequest(
    string Scaler, string LaunchId, string Resource, string MachineType, Offering Offering, int Slots, IReadOnlyList<string> Queues)
{
    /// <summary>The instance's agent reports its slots as <c>{WorkerPrefix}:cpu:N</c>; the autoscaler maps them back by this prefix.</summary>
    public string WorkerPrefix => WorkerIdentity.Prefix(Scaler, Resource, LaunchId);

    /// <summary>The tags every provider puts on the instance, so that a restarted autoscaler finds it.</summary>
    public IReadOnlyDictionary<string, string> Tags => new Dictionary<string, string>
    {
        [ProviderTags.Scaler] = Scaler,
        [ProviderTags.Resource] = Resource,
        [ProviderTags.LaunchId] = LaunchId,
        [ProviderTags.Market] = Offering.Market,
    };
}

public static class ProviderTags
{
    public const string Scaler = "slipway:autoscaler";
    public const string Resource = "slipway:resource";
    public const string LaunchId = "slipway:launch-id";
    public const string Market = "slipway:market";
}

/// <summary>What may be bought: a machine type in a zone on a market. A failed one is backed off as a whole.</summary>
public sealed record Offering(string MachineType, string? Zone, string Market)
{
    public string Key => $"{MachineType}/{Zone ?? "*"}/{Market}";
}

public enum ProviderInstanceState
{
    Pending,
    Running,
    /// <summary>Terminated, stopped, or interrupted (a spot reclaim): it will not come back.</summary>
    Gone,
}

/// <summary>An instance as the provider lists it, with the identity it was launched with.</summary>
public sealed record ProviderInstance(string InstanceId, string LaunchId, string Resource, ProviderInstanceState State, string? Detail = null)
{
    /// <summary>Gone because it finished its work normally (a one-task pod whose agent stopped after its task), not lost.</summary>
    public bool Completed { get; init; }
}

public sealed class OfferingUnavailableException(string message) : Exception(message);

/// <summary>
/// The provider could not be asked or its answer not read (throttled, refused credentials, a malformed reply): nothing was
/// done, and the pass is tried again at the next tick from what the provider then lists.
/// </summary>
public sealed class ProviderException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Hands out one-time enrollment tokens, so that what an instance boots with holds no long-lived key.</summary>
public interface IEnrollmentIssuer
{
    /// <summary>A token bound to the launch, good for one exchange within <paramref name="lifetime"/>.</summary>
    Task<Enrollment> IssueAsync(string scaler, string launchId, string workerPrefix, TimeSpan lifetime, CancellationToken ct);
}

/// <summary>A one-time enrollment token and when it stops working.</summary>
public sealed record Enrollment(string Token, DateTimeOffset Expires)
{
    public override string ToString() => $"enrollment (expires {Expires:u})"; // never the token itself
}
