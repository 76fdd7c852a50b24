using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Events;

/// <summary>
/// Reads a series for a chart: every point when they fit in the sample count, else the finest pyramid level that
/// does. A chart zoomed into an iteration range reads only that range, so zooming far enough in shows the raw points
/// of any series, however long.
/// </summary>
public sealed class ScalarHistogram(IEventStore events)
{
    public const int DefaultSamples = 10_000;

    public Task<List<ScalarPoint>> PointsAsync(ScalarSeries series, int samples, CancellationToken ct) =>
        PointsAsync(series, samples, long.MinValue, long.MaxValue, ct);

    /// <summary>At most about <paramref name="samples"/> points of the series within [fromIter, toIter] (edge buckets may reach past it).</summary>
    public async Task<List<ScalarPoint>> PointsAsync(ScalarSeries series, int samples, long fromIter, long toIter, CancellationToken ct)
    {
        var from = Math.Max(fromIter, series.MinIter);
        var to = Math.Min(toIter, series.MaxIter);
        if (from > to)
            return [];
        var whole = from == series.MinIter && to == series.MaxIter;
        if (whole && series.Count <= samples)
            return await events.GetScalarsAsync(series.Id, ct);
        // Iterations are distinct within a series, so a range this short cannot hold more points than asked for.
        if (to - from < samples)
            return await events.GetScalarsAsync(series.Id, from, to, ct);
        var level = ScalarPyramid.ChooseLevel(from, to, samples);
        var buckets = await events.GetBucketsAsync(series.Id, level, ScalarPyramid.BucketOf(from, level), ScalarPyramid.BucketOf(to, level), ct);
        // A sparse series (say, one point every 100 iterations) may still fit raw: the buckets' counts bound the points in range.
        if (!whole && buckets.Sum(b => b.Count) <= samples)
            return await events.GetScalarsAsync(series.Id, from, to, ct);
        return ScalarPyramid.Points(buckets);
    }
}
