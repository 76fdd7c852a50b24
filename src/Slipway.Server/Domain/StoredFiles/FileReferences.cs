using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Server.Blobs;

namespace Slipway.Server.Domain.StoredFiles;

/// <summary>
/// Finds the files of this server's file server that a document points at: any http(s) URL on a port the
/// file server has served on (documents keep the URLs of earlier runs), its path decoded once (as the file
/// server does) into a blob path.
/// </summary>
public static partial class FileReferences
{
    /// <summary>The blob paths of every file-server URL anywhere in the document (artifact uris, model uris, image urls…).</summary>
    public static HashSet<string> PathsIn(JsonNode? node, IReadOnlySet<int> filesPorts)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        Collect(node, filesPorts, paths);
        return paths;
    }

    public static string? ToBlobPath(string url, IReadOnlySet<int> filesPorts)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !filesPorts.Contains(uri.Port))
            return null;
        var raw = uri.AbsolutePath;
        if (raw.Contains("%2f", StringComparison.OrdinalIgnoreCase) || raw.Contains("%5c", StringComparison.OrdinalIgnoreCase))
            return null;
        return BlobPath.Check(Uri.UnescapeDataString(raw), out _);
    }

    /// <summary>The task ids a path is filed under (the SDK puts a task's files in "&lt;task name&gt;.&lt;task id&gt;/").</summary>
    public static IEnumerable<string> OwnerIds(string path) =>
        TaskIdInPath().Matches(path).Select(m => m.Groups[1].Value).Distinct();

    private static void Collect(JsonNode? node, IReadOnlySet<int> filesPort, HashSet<string> paths)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, value) in obj)
                    Collect(value, filesPort, paths);
                break;
            case JsonArray array:
                foreach (var item in array)
                    Collect(item, filesPort, paths);
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                var text = value.GetValue<string>();
                if (text.StartsWith("http", StringComparison.Ordinal) && ToBlobPath(text, filesPort) is { } path)
                    paths.Add(path);
                break;
        }
    }

    [GeneratedRegex(@"\.([0-9a-f]{32})(?:/|$)")]
    private static partial Regex TaskIdInPath();
}
