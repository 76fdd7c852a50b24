namespace Slipway.Client.Datasets;

/// <summary>One file of a dataset version, as its manifest (<c>state.json</c>) records it.</summary>
/// <param name="RelativePath">The path inside the dataset, <c>/</c>-separated, e.g. <c>images/cat.png</c>.</param>
/// <param name="Hash">Lowercase hex SHA-256 of the file's bytes.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="SourceVersionId">
/// The version whose zip chunk holds the bytes: this version for a file it added or changed, an ancestor for an
/// inherited one (the manifest's <c>parent_dataset_id</c>).
/// </param>
/// <param name="ChunkName">The chunk artifact on that version (<c>data</c>, <c>data_001</c>, ...); null until uploaded.</param>
public sealed record DatasetFile(string RelativePath, string Hash, long Size, string SourceVersionId, string? ChunkName);

/// <summary>An external file a dataset version refers to by URL instead of storing it (the SDK's link entries).</summary>
/// <param name="RelativePath">Where the file goes inside the dataset.</param>
/// <param name="Link">The file's URL.</param>
/// <param name="Size">Size in bytes, when known.</param>
/// <param name="SourceVersionId">The version that added the link.</param>
/// <param name="Hash">SHA-256, when known (the Python SDK does not record it).</param>
public sealed record DatasetLink(string RelativePath, string Link, long? Size, string SourceVersionId, string? Hash);
