using Slipway.Server.Storage;

namespace Slipway.Server.Domain;

/// <summary>Reads a series for a chart: every point when it fits in the sample count, else the pyramid level that does.</summary>
public sealed class ScalarHistogram(IEventStore events)
{
    public const int DefaultSamples = 10_000;

    public async Task<List<ScalarPoint>> PointsAsync(ScalarSeries series, int samples, CancellationToken ct)
    {
        if (series.Count <= samples)
            return await events.GetScalarsAsync(series.Id, ct);
        var level = ScalarPyramid.ChooseLevel(series.MinIter, series.MaxIter, samples);
        return ScalarPyramid.Points(await events.GetBucketsAsync(series.Id, level, ct));
    }
}
