using System.Text;

namespace Slipway.Metrics;

/// <summary>
/// Runs OpenTelemetry's Prometheus scraping branch in the text format and appends series that the exporter cannot
/// produce, written by the caller (the server's per-caller queue gauges, a serving host's metric-rule histograms).
/// </summary>
internal static class ExporterText
{
    public static async Task WriteAsync(Microsoft.AspNetCore.Http.HttpContext http, Microsoft.AspNetCore.Http.RequestDelegate exporter, Func<Task<string>> appended)
    {
        // The text format, which the appended part follows (OpenMetrics would have to end with the exporter's "# EOF").
        http.Request.Headers.Accept = "text/plain";
        var body = http.Response.Body;
        using var exported = new MemoryStream();
        http.Response.Body = exported;
        try
        {
            await exporter(http);
        }
        finally
        {
            http.Response.Body = body;
        }
        exported.Position = 0;
        await exported.CopyToAsync(body, http.RequestAborted);
        await body.WriteAsync(Encoding.UTF8.GetBytes(await appended()), http.RequestAborted);
    }
}
