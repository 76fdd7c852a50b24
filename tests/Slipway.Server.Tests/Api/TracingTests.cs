using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>Each API call is a server span of the "Slipway.Server" source, named for its endpoint, in the caller's trace.</summary>
public sealed class TracingTests : ServerTests
{
    public TracingTests() : base("sqlite")
    {
    }

    [Fact]
    public async Task A_call_is_a_span_named_for_its_endpoint_with_its_result_code_in_the_trace_the_caller_sent()
    {
        var trace = ActivityTraceId.CreateRandom();
        // ASP.NET Core's own source is listened to as well: it only continues the caller's trace when someone listens.
        using var recorder = new SpanRecorder(["Slipway.Server", "Microsoft.AspNetCore"], s => s.TraceId == trace && s.Source.Name == "Slipway.Server");

        using var http = new HttpClient { BaseAddress = Server.Api };
        foreach (var (endpoint, body) in new[] { ("projects.get_all", "{}"), ("tasks.get_by_id", "{\"task\":\"nothing-here\"}") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Api.Token);
            request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom()}-01");
            using var _ = await http.SendAsync(request);
        }

        await recorder.WaitForAsync(s => s.DisplayName == "tasks.get_by_id");
        await recorder.WaitForAsync(s => s.DisplayName == "projects.get_all");
        var spans = recorder.Spans;
        Assert.Equal(["projects.get_all", "tasks.get_by_id"], spans.Select(s => s.DisplayName).Order());
        Assert.All(spans, s => Assert.Equal(ActivityKind.Server, s.Kind));
        Assert.Equal(200, spans.Single(s => s.DisplayName == "projects.get_all").GetTagItem("slipway.result_code"));
        Assert.Equal(400, spans.Single(s => s.DisplayName == "tasks.get_by_id").GetTagItem("slipway.result_code"));
    }
}
