using System.Net;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests;

public sealed class ClientTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    [Fact]
    public async Task Calls_sign_in_once_and_return_the_data()
    {
        using var client = server.NewClient();
        var info = await client.CallAsync("server.info", []);
        Assert.False(string.IsNullOrEmpty(info.Str("version")));
        var user = await client.CallAsync("users.get_current_user", []);
        Assert.NotNull(user["user"]);
    }

    [Fact]
    public async Task An_error_answer_throws_one_exception_with_the_code_and_message()
    {
        using var client = server.NewClient();
        var e = await Assert.ThrowsAsync<SlipwayException>(() => client.Tasks.GetAsync("no-such-task"));
        Assert.Equal("tasks.get_by_id", e.Endpoint);
        Assert.Equal(400, e.ResultCode);
        Assert.Equal(101, e.ResultSubcode);
        Assert.Contains("no-such-task", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_keys_fail_with_401()
    {
        var options = server.Options();
        options.SecretKey = "wrong";
        using var client = new SlipwayClient(options);
        var e = await Assert.ThrowsAsync<SlipwayException>(() => client.Projects.ListAsync());
        Assert.Equal(401, e.ResultCode);
    }

    [Fact]
    public async Task An_expired_token_is_replaced_by_signing_in_again()
    {
        var options = server.Options();
        options.AuthToken = "not-a-valid-token";
        using var client = new SlipwayClient(options);
        var projects = await client.Projects.ListAsync();
        Assert.NotNull(projects);
    }

    [Fact]
    public async Task Transient_failures_are_retried_with_backoff()
    {
        using var handler = new FlakyHandler(failures: 2);
        var options = server.Options();
        options.HttpClient = new HttpClient(handler);
        using var client = new SlipwayClient(options);
        var info = await client.CallAsync("server.info", []);
        Assert.NotNull(info.Str("version"));
        Assert.Equal(2, handler.Failed);
    }

    [Fact]
    public async Task An_unreachable_server_fails_after_the_retries_with_a_clear_message()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var client = new SlipwayClient(new ClientOptions
        {
            ApiServer = new Uri($"http://127.0.0.1:{port}"), AccessKey = "a", SecretKey = "b",
            MaxRetries = 1, RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        });
        var e = await Assert.ThrowsAsync<SlipwayException>(() => client.CallAsync("server.info", []));
        Assert.Contains("cannot reach", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_stops_a_call()
    {
        using var client = server.NewClient();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.CallAsync("server.info", [], cts.Token));
    }

    [Fact]
    public async Task Projects_are_found_or_created_once()
    {
        using var client = server.NewClient();
        var name = "clients/p-" + Guid.NewGuid().ToString("N")[..6];
        var ids = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.Projects.GetOrCreateAsync(name)));
        Assert.Single(ids.Distinct());
        Assert.Equal(name, (await client.Projects.GetAsync(ids[0])).Name);
        Assert.Equal(ids[0], (await client.Projects.FindAsync(name))!.Id);
    }

    [Fact]
    public async Task Queues_are_created_listed_and_found()
    {
        using var client = server.NewClient();
        var name = "q-" + Guid.NewGuid().ToString("N")[..6];
        var id = await client.Queues.CreateAsync(name);
        var found = await client.Queues.FindAsync(name);
        Assert.Equal(id, found!.Id);
        Assert.Contains(await client.Queues.ListAsync(), q => q.Name == name);
    }

    /// <summary>Fails the first N requests as a dropped connection would.</summary>
    private sealed class FlakyHandler(int failures) : DelegatingHandler(new SocketsHttpHandler())
    {
        public int Failed { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Failed < failures)
            {
                Failed++;
                throw new HttpRequestException("connection reset (simulated)");
            }
            return base.SendAsync(request, cancellationToken);
        }
    }
}
