using System.Text;

namespace Slipway.Client.Datasets;

/// <summary>
/// Where a dataset version lives: its hidden project (<c>&lt;project&gt;/.datasets/&lt;name&gt;</c>), the paths of its
/// files on the file server, and the paths of files inside it.
/// </summary>
internal static class DatasetNaming
{
    public const string Marker = "/.datasets/";
    public const string DatasetTag = "dataset";
    public const string HiddenTag = "hidden";
    public const string TaskType = "data_processing";
    public const string StateKey = "state";
    public const string ChunkKey = "data";

    /// <summary>The folder project holding every dataset of <paramref name="project"/>.</summary>
    public static string DatasetsFolder(string project) => project + "/.datasets";

    /// <summary>The hidden project holding the versions of one dataset.</summary>
    public static string VersionsProject(string project, string name) => DatasetsFolder(project) + "/" + name;

    /// <summary>Splits a hidden project name into the dataset's project and name; null when it is not one.</summary>
    public static (string Project, string Name)? SplitVersionsProject(string projectName)
    {
        var at = projectName.IndexOf(Marker, StringComparison.Ordinal);
        return at < 0 ? null : (projectName[..at], projectName[(at + Marker.Length)..]);
    }

    /// <summary>Whether an artifact key names a zip chunk (<c>data</c>, <c>data_001</c>, ...).</summary>
    public static bool IsChunkKey(string key) => key == ChunkKey || key.StartsWith(ChunkKey + "_", StringComparison.Ordinal);

    /// <summary>A chunk's index: <c>data</c> is 0, <c>data_NNN</c> is NNN; -1 for anything else.</summary>
    public static int ChunkIndex(string key) =>
        key == ChunkKey ? 0
        : key.StartsWith(ChunkKey + "_", StringComparison.Ordinal) && int.TryParse(key.AsSpan(ChunkKey.Length + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
        : -1;

    /// <summary>The name of chunk number <paramref name="index"/>: <c>data</c> first, then <c>data_001</c>, <c>data_002</c>, ...</summary>
    public static string ChunkName(int index) => index == 0 ? ChunkKey : $"{ChunkKey}_{index:000}";

    /// <summary>The first chunk index not taken by <paramref name="existingKeys"/>.</summary>
    public static int NextChunkIndex(IEnumerable<string> existingKeys)
    {
        var indices = existingKeys.Where(IsChunkKey).Select(ChunkIndex).ToList();
        return indices.Count == 0 ? 0 : Math.Max(1, indices.Max() + 1);
    }

    /// <summary>
    /// The path of an artifact file on the file server, laid out as the SDK lays it out:
    /// <c>&lt;project&gt;/&lt;task name&gt;.&lt;task id&gt;/artifacts/&lt;key&gt;/&lt;file&gt;</c>, the project capped at 256
    /// characters and the task folder at 128 (both then suffixed with their id), unusual characters percent-quoted.
    /// </summary>
    public static string ArtifactPath(string projectName, string projectId, string taskName, string taskId, string key, string fileName)
    {
        static string Limit(string name, string id, int max, bool alwaysId) =>
            !alwaysId && name.Length < max ? name : name[..Math.Min(name.Length, Math.Max(2, max - id.Length - 1))] + "." + id;
        var project = Quote(Limit(projectName, projectId, 256, alwaysId: false));
        var task = Quote(Limit(taskName, taskId, 128, alwaysId: true));
        return $"{project}/{task}/artifacts/{key}/{fileName}";
    }

    // The characters the SDK leaves unquoted in these two path segments, besides letters, digits and _.-~.
    private const string QuoteSafe = "'[]{}()$^,.; -_+=/";

    private static string Quote(string text)
    {
        var s = new StringBuilder(text.Length);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            var c = (char)b;
            if (b < 0x80 && (char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' or '~' || QuoteSafe.Contains(c, StringComparison.Ordinal)))
                s.Append(c);
            else
                s.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return s.ToString();
    }

    /// <summary>
    /// A file's path inside the dataset: <paramref name="datasetFolder"/> (leading <c>/</c> dropped) joined with the
    /// path relative to what was added, <c>/</c>-separated, with no <c>.</c> or empty segments.
    /// </summary>
    /// <exception cref="SlipwayException">The result is empty or climbs out of the dataset (<c>..</c>).</exception>
    public static string RelativePath(string? datasetFolder, string relative)
    {
        var parts = ((datasetFolder ?? "") + "/" + relative).Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p != ".").ToList();
        if (parts.Count == 0 || parts.Contains(".."))
            throw new SlipwayException($"'{relative}' (dataset folder '{datasetFolder}') is not a valid path inside a dataset");
        return string.Join('/', parts);
    }

    /// <summary>The local path of a dataset file under <paramref name="root"/>, refusing paths that would leave it.</summary>
    /// <exception cref="SlipwayException">The path is absolute or climbs out of the root.</exception>
    public static string LocalPath(string root, string relativePath)
    {
        var full = Path.GetFullPath(Path.Combine(root, relativePath));
        var prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal) || Path.IsPathRooted(relativePath))
            throw new SlipwayException($"the dataset path '{relativePath}' points outside the dataset folder");
        return full;
    }
}
