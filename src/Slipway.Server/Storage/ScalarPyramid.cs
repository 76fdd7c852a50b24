namespace Slipway.Server.Storage;

/// <summary>
/// Downsampling that keeps spikes visible and costs the same for any series length: each series keeps, per
/// level, the min and max point of every bucket of 16·4^level iterations, updated as points arrive. A query
/// reads the finest level whose buckets fit the requested sample count, never the raw points.
/// </summary>
public static class ScalarPyramid
{
    public const int Levels = 11;

    public static long Width(int level) => 16L << (2 * level);

    /// <summary>Floor division, so negative iterations (single values use int.MinValue) fall in their own buckets.</summary>
    public static long BucketOf(long iter, int level)
    {
        var width = Width(level);
        return iter >= 0 ? iter / width : -((-(iter + 1)) / width) - 1;
    }

    /// <summary>
    /// Aggregates new points of one series into per-level bucket deltas. Level 0 is built from the points in
    /// one pass (points usually arrive in iteration order, so a bucket ends when the next point leaves it);
    /// each coarser level is built from the buckets of the level below, since widths grow by a factor of 4.
    /// </summary>
    public static List<(int Level, ScalarBucket Bucket)> Aggregate(IReadOnlyList<ScalarPoint> points)
    {
        var result = new List<(int, ScalarBucket)>();
        var level = Merge(points.Where(p => p.Value is not null).Select(p => (BucketOf(p.Iter, 0), new ScalarBucket(0, 1, p, p))));
        for (var l = 0; l < Levels; l++)
        {
            foreach (var bucket in level)
                result.Add((l, bucket));
            if (l + 1 < Levels)
                level = Merge(level.Select(b => (b.Bucket >> 2, b)));
        }
        return result;
    }

    /// <summary>Combines (bucket, partial aggregate) pairs that share a bucket.</summary>
    private static List<ScalarBucket> Merge(IEnumerable<(long Bucket, ScalarBucket Part)> parts)
    {
        var merged = new List<ScalarBucket>();
        Dictionary<long, int>? index = null;
        foreach (var (bucket, part) in parts)
        {
            var at = merged.Count > 0 && merged[^1].Bucket == bucket ? merged.Count - 1 : -1;
            if (at < 0 && merged.Count > 0)
            {
                // Out of order: fall back to a lookup.
                index ??= merged.Select((b, i) => (b.Bucket, i)).ToDictionary(x => x.Bucket, x => x.i);
                at = index.GetValueOrDefault(bucket, -1);
            }
            if (at < 0)
            {
                index?.Add(bucket, merged.Count);
                merged.Add(part with { Bucket = bucket });
            }
            else
            {
                var agg = merged[at];
                merged[at] = new ScalarBucket(bucket, agg.Count + part.Count,
                    part.Min.Value < agg.Min.Value ? part.Min : agg.Min,
                    part.Max.Value > agg.Max.Value ? part.Max : agg.Max);
            }
        }
        return merged;
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
