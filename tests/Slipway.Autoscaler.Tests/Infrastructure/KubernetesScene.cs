using Slipway.Client;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>
/// What the Kubernetes provider's tests run against, fresh per test: a real server on loopback with its admin's client
/// and the named queues, a stand-in of the Kubernetes API, and a clock the test moves by hand.
/// </summary>
public sealed class KubernetesScene(params string[] queues) : IAsyncLifetime
{
    private TestServer? _server;
    private SlipwayClient? _client;
    private KubernetesStandIn? _cluster;

    public TestServer Server => _server ?? throw new InvalidOperationException("not started");
    public SlipwayClient Client => _client ?? throw new InvalidOperationException("not started");
    public KubernetesStandIn Cluster => _cluster ?? throw new InvalidOperationException("not started");
    public FakeClock Clock { get; } = new(DateTimeOffset.UtcNow);

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
        _cluster = await KubernetesStandIn.StartAsync();
        foreach (var queue in queues)
            await _client.Queues.CreateAsync(queue);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
        _client?.Dispose();
        if (_server is not null)
            await _server.DisposeAsync();
    }
}
