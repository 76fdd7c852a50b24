using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Slipway.Metrics;
using Slipway.Server.Auth;
using Slipway.Server.Core;

namespace Slipway.Server;

/// <summary>
/// /metrics on the API port, for a Bearer token: OpenTelemetry's Prometheus exporter reading <see cref="ServerMetrics"/>'s
/// meter, followed by the queue and autoscaler gauges of <see cref="AutoscalerMetrics"/>, which are read from the store for
/// each scrape because what they show depends on the caller.
/// </summary>
public static class MetricsEndpoint
{
    public const string Path = "/metrics";

    public static void AddMetrics(this IServiceCollection services, ServerMetrics metrics) =>
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService("slipway-server")).WithMetrics(meters => meters
            .AddMeter(ServerMetrics.MeterName)
            // Every meter of that name in the process is offered; another server's (tests, benchmarks) is not ours to show.
            .AddView(instrument => ReferenceEquals(instrument.Meter, metrics.Meter) ? null : MetricStreamConfiguration.Drop)
            // Each scrape is current: the exporter's cache would answer a scrape right after a call without it.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

    public static void MapMetrics(this WebApplication app)
    {
        var store = app.Services.GetRequiredService<AutoscalerMetrics>();
        app.MapPrometheusScrapingEndpoint(Path, meterProvider: null!, configureBranchedPipeline: branch => branch.Use(async (http, next) =>
        {
            Identity caller;
            try
            {
                caller = await http.CallerAsync(cookieAccepted: false);
            }
            catch (ApiException)
            {
                http.Response.StatusCode = 401;
                await http.Response.WriteAsync("unauthorized: send a Bearer token from auth.login\n");
                return;
            }
            await ExporterText.WriteAsync(http, next, () => store.ToPrometheusAsync(caller, http.RequestAborted));
        }), optionsName: null!).WithMetadata(new ServesOn(PortRole.Api));
    }
}
