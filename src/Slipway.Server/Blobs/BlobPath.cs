namespace Slipway.Server.Blobs;

/// <summary>
/// A path inside the blob store, checked so that it cannot leave the store's root: relative, '/'-separated,
/// no empty, "." or ".." segments, no backslashes, NUL or other control characters, bounded lengths.
/// Names are otherwise kept literally ('#', '%', '?', spaces and non-ASCII included).
/// </summary>
public static class BlobPath
{
    public const int MaxLength = 1024;
    public const int MaxSegmentBytes = 255;

    /// <summary>The normalized path (leading '/' removed), or null with the reason it is refused.</summary>
    public static string? Check(string? raw, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(raw))
            return Refuse("the path is empty", out problem);
        var path = raw.TrimStart('/');
        if (path.Length == 0)
            return Refuse("the path is empty", out problem);
        if (raw.StartsWith("//", StringComparison.Ordinal))
            return Refuse("the path is absolute", out problem);
        if (path.Length > MaxLength)
            return Refuse($"the path is longer than {MaxLength} characters", out problem);
        if (path.Any(c => char.IsControl(c) || c == '\\'))
            return Refuse("the path contains a control character or a backslash", out problem);
        if (path.Length >= 2 && path[1] == ':' && char.IsAsciiLetter(path[0]))
            return Refuse("the path names a drive", out problem);
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment is "." or "..")
                return Refuse("the path has an empty, '.' or '..' segment", out problem);
            if (System.Text.Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
                return Refuse($"a path segment is longer than {MaxSegmentBytes} bytes", out problem);
            if (segment.StartsWith(".slipway", StringComparison.Ordinal))
                return Refuse("names starting with .slipway are reserved", out problem);
        }
        return path;
    }

    private static string? Refuse(string why, out string? problem)
    {
        problem = why;
        return null;
    }
}
