namespace Slipway.Serving;

/// <summary>An endpoint as the host routes it: who may call it, how large a request may be, and its versions with their weights.</summary>
public sealed record EndpointRoute(string Id, string Name, bool Public, IReadOnlySet<string> KeyHashes, long MaxRequestBytes,
    IReadOnlyList<(ServedVersion Version, double Weight)> Versions)
{
    public ServedVersion? Find(long number) => Versions.FirstOrDefault(v => v.Version.Number == number).Version;

    /// <summary>
    /// A ready version by weight (canary). When none of the weighted versions is ready yet (a new version still loading, its
    /// predecessor set to 0), the newest ready version answers, so a swap never leaves a gap.
    /// </summary>
    public ServedVersion? Pick(Random random)
    {
        var total = 0.0;
        foreach (var (version, weight) in Versions)
        {
            if (version.State == VersionState.Ready && weight > 0)
                total += weight;
        }
        if (total > 0)
        {
            var draw = random.NextDouble() * total;
            ServedVersion? last = null;
            foreach (var (version, weight) in Versions)
            {
                if (version.State != VersionState.Ready || weight <= 0)
                    continue;
                last = version;
                draw -= weight;
                if (draw < 0)
                    return version;
            }
            return last;
        }
        return Versions.Where(v => v.Version.State == VersionState.Ready).Select(v => v.Version).MaxBy(v => v.Number);
    }
}

/// <summary>The endpoints by name: an immutable snapshot the host swaps whole, so a request reads one consistent table without a lock.</summary>
public sealed class RoutingTable(IReadOnlyDictionary<string, EndpointRoute> endpoints, bool configured)
{
    public static readonly RoutingTable Empty = new(new Dictionary<string, EndpointRoute>(), false);

    public IReadOnlyDictionary<string, EndpointRoute> Endpoints { get; } = endpoints;

    /// <summary>False until the first configuration from the server is applied.</summary>
    public bool Configured { get; } = configured;

    public EndpointRoute? Find(string name) => Endpoints.GetValueOrDefault(name);
}
