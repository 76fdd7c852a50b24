using Slipway.Server.Storage;

namespace Slipway.Server.Domain;

/// <summary>
/// Downsampling that keeps spikes visible and costs the same for any series length: each series keeps, per
/// level, the min and max point of every bucket of 16·4^level iterations, updated as points arrive. A query
/// reads the finest level whose buckets fit the requested sample count, never the raw points.
/// </summary>
public static class ScalarPyramid
{
    public const int Levels = 11;

    public static long Width(int level) => 16L << (2 * level);

    public static long BucketOf(long iter, int level) => (long)Math.Floor(iter / (double)Width(level));

    /// <summary>Aggregates new points of one series into per-level bucket deltas.</summary>
    public static IEnumerable<(int Level, ScalarBucket Bucket)> Aggregate(IReadOnlyList<ScalarPoint> points)
    {
        for (var level = 0; level < Levels; level++)
        {
            var buckets = new Dictionary<long, ScalarBucket>();
            foreach (var p in points)
            {
                if (p.Value is not { } v)
                    continue;
                var b = BucketOf(p.Iter, level);
                buckets[b] = buckets.TryGetValue(b, out var agg)
                    ? new ScalarBucket(b, agg.Count + 1, v < agg.Min.Value ? p : agg.Min, v > agg.Max.Value ? p : agg.Max)
                    : new ScalarBucket(b, 1, p, p);
            }
            foreach (var bucket in buckets.Values)
                yield return (level, bucket);
        }
    }

    /// <summary>The finest level whose buckets over [minIter, maxIter] give at most <paramref name="samples"/> points (two per bucket).</summary>
    public static int ChooseLevel(long minIter, long maxIter, int samples)
    {
        for (var level = 0; level < Levels; level++)
        {
            var buckets = BucketOf(maxIter, level) - BucketOf(minIter, level) + 1;
            if (buckets * 2 <= samples)
                return level;
        }
        return Levels - 1;
    }

    /// <summary>The points a level shows: each bucket's min and max, in iteration order.</summary>
    public static List<ScalarPoint> Points(IEnumerable<ScalarBucket> buckets)
    {
        var points = new List<ScalarPoint>();
        foreach (var b in buckets.OrderBy(b => b.Bucket))
        {
            if (b.Min.Iter == b.Max.Iter)
            {
                points.Add(b.Min);
            }
            else
            {
                points.Add(b.Min.Iter < b.Max.Iter ? b.Min : b.Max);
                points.Add(b.Min.Iter < b.Max.Iter ? b.Max : b.Min);
            }
        }
        return points;
    }
}
