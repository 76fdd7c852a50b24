using System.Buffers.Binary;

namespace Slipway.Server.Storage;

/// <summary>
/// Scalar points are stored in chunks of <see cref="Span"/> iterations: one row per chunk whose blob holds
/// the chunk's points in iteration order, 24 bytes each (iteration, value, timestamp; a missing value is
/// NaN). A batch of a thousand points then rewrites a couple of rows instead of inserting a thousand, which
/// is what keeps SQLite's single writer from being the limit. Re-sent iterations overwrite.
/// </summary>
public static class ScalarChunks
{
    public const int Span = 1024;
    private const int PointBytes = 24;

    public static long ChunkOf(long iter) => iter >= 0 ? iter / Span : -((-(iter + 1)) / Span) - 1;

    public static List<ScalarPoint> Decode(ReadOnlySpan<byte> blob)
    {
        var points = new List<ScalarPoint>(blob.Length / PointBytes);
        for (var at = 0; at + PointBytes <= blob.Length; at += PointBytes)
        {
            var value = BinaryPrimitives.ReadDoubleLittleEndian(blob[(at + 8)..]);
            points.Add(new ScalarPoint(BinaryPrimitives.ReadInt64LittleEndian(blob[at..]), double.IsNaN(value) ? null : value,
                BinaryPrimitives.ReadInt64LittleEndian(blob[(at + 16)..])));
        }
        return points;
    }

    /// <summary>Merges new points (sorted, distinct iterations) into a stored chunk; returns the new blob and how many iterations are new.</summary>
    public static (byte[] Blob, int Added) Merge(ReadOnlySpan<byte> stored, IReadOnlyList<ScalarPoint> incoming)
    {
        var old = stored.Length / PointBytes;
        var blob = new byte[(old + incoming.Count) * PointBytes];
        int i = 0, j = 0, written = 0, added = 0;
        while (i < old || j < incoming.Count)
        {
            var oldIter = i < old ? BinaryPrimitives.ReadInt64LittleEndian(stored[(i * PointBytes)..]) : long.MaxValue;
            if (j < incoming.Count && (i >= old || incoming[j].Iter <= oldIter))
            {
                if (i < old && incoming[j].Iter == oldIter)
                    i++;
                else
                    added++;
                Write(blob.AsSpan(written * PointBytes), incoming[j++]);
            }
            else
            {
                stored.Slice(i++ * PointBytes, PointBytes).CopyTo(blob.AsSpan(written * PointBytes));
            }
            written++;
        }
        return (written * PointBytes == blob.Length ? blob : blob[..(written * PointBytes)], added);
    }

    private static void Write(Span<byte> target, ScalarPoint point)
    {
        BinaryPrimitives.WriteInt64LittleEndian(target, point.Iter);
        BinaryPrimitives.WriteDoubleLittleEndian(target[8..], point.Value ?? double.NaN);
        BinaryPrimitives.WriteInt64LittleEndian(target[16..], point.Timestamp);
    }
}
