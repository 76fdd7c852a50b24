namespace Slipway.Client.Datasets;

/// <summary>What <see cref="DatasetVersion.AddFilesAsync"/> changed.</summary>
/// <param name="Added">Files new to the version.</param>
/// <param name="Modified">Files that replace a file of the same path with different content.</param>
/// <param name="Unchanged">Files the version already holds with the same content (nothing to upload).</param>
public sealed record DatasetAddResult(int Added, int Modified, int Unchanged);

/// <summary>What <see cref="DatasetVersion.SyncFolderAsync"/> changed: files added, modified (new content), removed, and left as they were.</summary>
public sealed record DatasetSyncResult(int Added, int Modified, int Removed, int Unchanged);

/// <summary>A local copy of a whole version.</summary>
/// <param name="Path">The folder holding the files: the copy target when one was asked for, else the cache folder.</param>
/// <param name="CachePath">The version's cache folder.</param>
/// <param name="FromCache">True when the cache already held the whole version and nothing was downloaded.</param>
/// <param name="BytesDownloaded">Bytes fetched from the file server for this call.</param>
/// <param name="Files">The version's files.</param>
public sealed record DatasetLocalCopy(string Path, string CachePath, bool FromCache, long BytesDownloaded, IReadOnlyList<DatasetFile> Files);

/// <summary>How two versions differ, by path and content hash.</summary>
/// <param name="FromVersionId">The older side.</param>
/// <param name="ToVersionId">The newer side.</param>
/// <param name="Added">Paths only in the newer version.</param>
/// <param name="Removed">Paths only in the older version.</param>
/// <param name="Modified">Paths in both whose content differs.</param>
/// <param name="Unchanged">How many paths are in both with the same content.</param>
public sealed record DatasetDiff(string FromVersionId, string ToVersionId, IReadOnlyList<DatasetFile> Added, IReadOnlyList<DatasetFile> Removed,
    IReadOnlyList<DatasetFileChange> Modified, int Unchanged);

/// <summary>A file whose content differs between two versions.</summary>
/// <param name="Before">The file in the older version.</param>
/// <param name="After">The file in the newer version.</param>
public sealed record DatasetFileChange(DatasetFile Before, DatasetFile After);

/// <summary>One version of a dataset, as listed (without its manifest).</summary>
/// <param name="Id">The version id (its task id).</param>
/// <param name="Project">The dataset's project.</param>
/// <param name="Name">The dataset's name.</param>
/// <param name="Version">The version string, e.g. <c>1.0.2</c>.</param>
/// <param name="Status"><c>in_progress</c> while being written; <c>completed</c> (or <c>published</c>) once finalized.</param>
/// <param name="Created">When the version was created.</param>
/// <param name="LastUpdate">When it last changed.</param>
/// <param name="Tags">User tags.</param>
/// <param name="FileCount">Files in the full version, when recorded.</param>
/// <param name="TotalSize">Bytes in the full version, when recorded.</param>
public sealed record DatasetVersionInfo(string Id, string Project, string Name, string? Version, string Status, DateTimeOffset? Created,
    DateTimeOffset? LastUpdate, IReadOnlyList<string> Tags, long? FileCount, long? TotalSize)
{
    /// <summary>True once the version is finalized and can be read.</summary>
    public bool IsFinal => Status is not ("created" or "in_progress" or "failed");
}

/// <summary>A dataset: a name in a project, and its versions.</summary>
/// <param name="Project">The project the dataset belongs to.</param>
/// <param name="Name">The dataset's name.</param>
/// <param name="Versions">Its versions, oldest first.</param>
public sealed record DatasetInfo(string Project, string Name, IReadOnlyList<DatasetVersionInfo> Versions)
{
    /// <summary>The version with the highest version string (the one a get by name returns), or null when there is none.</summary>
    public DatasetVersionInfo? Latest
    {
        get
        {
            var newestFirst = Versions.Reverse().ToList();
            var at = DatasetVersionNumber.IndexOfLatest(newestFirst.Select(v => v.Version).ToList());
            return at < 0 ? null : newestFirst[at];
        }
    }
}
