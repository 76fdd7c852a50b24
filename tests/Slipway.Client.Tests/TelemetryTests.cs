using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests;

/// <summary>What an application's OpenTelemetry setup sees of the client: a span per call, and its duration by outcome.</summary>
public sealed class TelemetryTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    [Fact]
    public async Task Each_call_is_a_client_span_under_the_callers_span_with_its_result_code()
    {
        using var spans = new SpanRecorder(["Slipway.Client", "test"]);
        using var source = new ActivitySource("test");
        using var client = server.NewClient();

        ActivityTraceId trace;
        using (var parent = source.StartActivity("training step"))
        {
            trace = parent!.TraceId;
            await client.CallAsync("projects.get_all", []);
            await Assert.ThrowsAsync<SlipwayException>(() => client.Tasks.GetAsync("no-such-task"));
        }

        var mine = spans.Spans.Where(s => s.TraceId == trace && s.Source.Name == "Slipway.Client").ToList();
        var ok = Assert.Single(mine, s => s.OperationName == "projects.get_all");
        Assert.Equal(ActivityKind.Client, ok.Kind);
        Assert.Equal(200, ok.GetTagItem("slipway.result_code"));
        Assert.NotEqual(ActivityStatusCode.Error, ok.Status);
        var failed = Assert.Single(mine, s => s.OperationName == "tasks.get_by_id");
        Assert.Equal(400, failed.GetTagItem("slipway.result_code"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
    }

    [Fact]
    public async Task Call_durations_are_measured_by_endpoint_and_outcome()
    {
        var seen = new ConcurrentQueue<(double Seconds, string? Endpoint, string? Outcome)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Slipway.Client" && instrument.Name == "slipway.client.call.duration")
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string? endpoint = null, outcome = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "endpoint")
                    endpoint = tag.Value as string;
                else if (tag.Key == "outcome")
                    outcome = tag.Value as string;
            }
            seen.Enqueue((value, endpoint, outcome));
        });
        listener.Start();
        using var client = server.NewClient();

        await Assert.ThrowsAsync<SlipwayException>(() => client.Models.GetAsync("no-such-model"));
        await client.CallAsync("queues.get_all", []);

        Assert.Contains(seen, m => m is { Endpoint: "models.get_by_id", Outcome: "400", Seconds: > 0 });
        Assert.Contains(seen, m => m is { Endpoint: "queues.get_all", Outcome: "ok", Seconds: > 0 });
    }
}
