namespace Slipway.Serving;

/// <summary>An endpoint as the host routes it: who may call it, how large a request may be, and its versions with their weights.</summary>
public sealed record EndpointRoute(string Id, string Name, bool Public, IReadOnlySet<string> KeyHashes, long MaxRequestBytes,
    IReadOnlyList<(ServedVersion Version, double Weight)> Versions)
{
    /// <summary>The request header whose value keeps a caller on one version of a canary (the same value, the same version); null for none.</summary>
    public string? StickyHeader { get; init; }

    /// <summary>Which requests are logged as dataset versions (the retraining loop); null for none.</summary>
    public RequestLogSettings? Log { get; init; }

    /// <summary>Versions that get a copy of a share of the requests: their answers are recorded in their statistics, never returned.</summary>
    public IReadOnlyList<(ServedVersion Version, double Share)> Shadows { get; init; } = [];

    /// <summary>User-defined metric rules by version key ("N", or "*" for every version).</summary>
    public IReadOnlyDictionary<string, MetricRule> Metrics { get; init; } = new Dictionary<string, MetricRule>();

    public ServedVersion? Find(long number) => Versions.FirstOrDefault(v => v.Version.Number == number).Version;

    public ServedVersion? Pick(Random random) => Pick(random.NextDouble());

    /// <summary>
    /// A ready version by weight (canary), at <paramref name="unit"/> (in [0, 1)) along the weights. When none of the weighted
    /// versions is ready yet (a new version still loading, its predecessor set to 0), the newest ready version answers, so a
    /// swap never leaves a gap; a shadow version never answers.
    /// </summary>
    public ServedVersion? Pick(double unit)
    {
        var total = 0.0;
        foreach (var (version, weight) in Versions)
        {
            if (version.State == VersionState.Ready && weight > 0)
                total += weight;
        }
        if (total > 0)
        {
            var draw = unit * total;
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
        return Versions.Where(v => v.Version.State == VersionState.Ready && !Shadows.Any(s => s.Version == v.Version)).Select(v => v.Version).MaxBy(v => v.Number);
    }

    /// <summary>Where a sticky header's value falls in [0, 1): stable across requests and hosts, spread evenly across values.</summary>
    public static double StickyPoint(string value) =>
        (System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value))) >> 11)
        * (1.0 / (1UL << 53));
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
