using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Server.Api;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Tests.Api;

/// <summary>
/// The pipeline both the RPC endpoint and the web UI call: whatever a handler throws comes out as the API's error, so a page
/// shows the code and message a client would get. Routes of its own, on a real store, stand in for handlers that fail.
/// </summary>
public sealed class RpcPipelineTests : IAsyncLifetime
{
    private readonly StoreFixture _store = new();
    private readonly LogRecorder _logs = new();
    private readonly RpcRouter _router = new();
    private ILoggerFactory _loggers = null!;
    private RpcPipeline _pipeline = null!;

    public async Task InitializeAsync()
    {
        await _store.InitializeAsync();
        _loggers = LoggerFactory.Create(_logs.AddTo);
        var access = new AccessControl(_store.Docs, new ServerOptions());
        _router.Add("test.disk_full", _ => throw new IOException("No space left on device", 28), null, anonymous: true);
        _router.Add("test.bug", _ => throw new InvalidOperationException("a handler's bug"), null, anonymous: true);
        _router.Add("test.cancelled", call => throw new OperationCanceledException(call.Aborted), null, anonymous: true);
        _router.Add("test.echo", call => ValueTask.FromResult<JsonNode?>(call.Body.DeepClone()), "name", anonymous: true);
        _pipeline = new RpcPipeline(_router, access, new EntityGuard(_store.Docs, access), new AuditLog(_store.Docs, TimeProvider.System),
            _loggers.CreateLogger<RpcPipeline>());
    }

    public async Task DisposeAsync()
    {
        _loggers.Dispose();
        _logs.Dispose();
        await _store.DisposeAsync();
    }

    private ValueTask<JsonNode?> CallAsync(string endpoint, JsonObject? body = null, CancellationToken ct = default) =>
        _pipeline.InvokeAsync(_pipeline.Find(endpoint), new RpcCall(endpoint, null, body ?? [], null, null, ct));

    [Fact]
    public async Task A_full_disk_is_a_507_with_the_reason_and_is_logged()
    {
        var e = await Assert.ThrowsAsync<ApiException>(() => CallAsync("test.disk_full").AsTask());
        Assert.Equal((507, DiskFull.Reason), (e.Code, e.Message));
        Assert.True(_logs.Contains(LogLevel.Error, "test.disk_full failed: no space left"));
    }

    [Fact]
    public async Task A_handlers_bug_is_a_500_that_names_no_detail_and_is_logged_with_it()
    {
        var e = await Assert.ThrowsAsync<ApiException>(() => CallAsync("test.bug").AsTask());
        Assert.Equal((500, RpcPipeline.GeneralError), (e.Code, e.Message));
        Assert.True(_logs.Contains(LogLevel.Error, "Unhandled error in test.bug"));
    }

    [Fact]
    public async Task A_call_its_caller_cancelled_stays_cancelled()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CallAsync("test.cancelled", ct: cancelled.Token).AsTask());
        Assert.Empty(_logs.Entries);
    }

    [Fact]
    public async Task Text_no_store_keeps_and_unknown_fields_are_400s_before_the_handler_runs()
    {
        var nul = await Assert.ThrowsAsync<ApiException>(() => CallAsync("test.echo", new JsonObject { ["name"] = "a\u0000b" }).AsTask());
        Assert.Equal((400, "Validation error (field 'name' contains a NUL character (\\u0000))"), (nul.Code, nul.Message));
        var unknown = await Assert.ThrowsAsync<ApiException>(() => CallAsync("test.echo", new JsonObject { ["other"] = 1 }).AsTask());
        Assert.Equal((400, "Validation error (unknown field 'other' for test.echo)"), (unknown.Code, unknown.Message));
        Assert.Equal("ok", (await CallAsync("test.echo", new JsonObject { ["name"] = "ok" }))!["name"]!.GetValue<string>());
    }

    [Fact]
    public void An_unknown_endpoint_is_the_apis_not_found() =>
        Assert.Equal(404, Assert.Throws<ApiException>(() => _pipeline.Find("test.nothing")).Code);
}
