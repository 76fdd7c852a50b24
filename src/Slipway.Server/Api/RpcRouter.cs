using System.Collections.Frozen;
using System.Text.Json.Nodes;

namespace Slipway.Server.Api;

/// <summary>Handles one endpoint; returns the envelope's <c>data</c> (null means <c>{}</c>).</summary>
public delegate ValueTask<JsonNode?> RpcHandler(RpcCall call);

/// <summary>Maps <c>service.action</c> names to handlers. Versions are accepted and echoed, not routed on.</summary>
public sealed class RpcRouter
{
    private readonly Dictionary<string, Route> _building = new(StringComparer.Ordinal);
    private FrozenDictionary<string, Route>? _routes;

    /// <summary>A handler and the request fields it accepts (null: any); other fields are rejected with 400.</summary>
    public sealed record Route(string Name, RpcHandler Handler, bool Anonymous, IReadOnlySet<string>? Fields);

    /// <param name="fields">The accepted request fields, space-separated; null accepts any.</param>
    public void Add(string name, RpcHandler handler, string? fields, bool anonymous = false)
    {
        if (_routes is not null)
            throw new InvalidOperationException("Routes are frozen once the server serves requests.");
        var accepted = fields?.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToFrozenSet(StringComparer.Ordinal);
        _building.Add(name, new Route(name, handler, anonymous, accepted));
    }

    public Route? Find(string name)
    {
        _routes ??= _building.ToFrozenDictionary(StringComparer.Ordinal);
        return _routes.GetValueOrDefault(name);
    }

    public IEnumerable<string> Names => _building.Keys.Order(StringComparer.Ordinal);
}
