using System.IO.Compression;

namespace Slipway.Client.Datasets;

/// <summary>How <see cref="DatasetsClient.CreateAsync"/> makes a new version.</summary>
public sealed record DatasetCreateOptions
{
    /// <summary>
    /// Finalized versions (ids) the new one starts from: their files are inherited, later parents overriding earlier
    /// ones on the same path, and are fetched from the parents' own chunks. Default: none.
    /// </summary>
    public IReadOnlyList<string>? Parents { get; init; }

    /// <summary>The version string; default the next version after the dataset's latest one (<c>1.0.0</c> for the first).</summary>
    public string? Version { get; init; }

    /// <summary>User tags of the version.</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>A description (the task's comment).</summary>
    public string? Description { get; init; }
}

/// <summary>How <see cref="DatasetsClient.SquashAsync"/> makes the merged version.</summary>
public sealed record DatasetSquashOptions
{
    /// <summary>The version string; default the next version after the dataset's latest one.</summary>
    public string? Version { get; init; }

    /// <summary>User tags of the new version.</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>A description; default one naming the squashed versions.</summary>
    public string? Description { get; init; }

    /// <summary>Chunk size, compression and file server of the upload.</summary>
    public DatasetUploadOptions? Upload { get; init; }

    /// <summary>The cache root the sources are fetched into (see <see cref="LocalCopyOptions.CacheDirectory"/>).</summary>
    public string? CacheDirectory { get; init; }
}

/// <summary>How <see cref="DatasetVersion.UploadAsync"/> packs and sends the added files.</summary>
public sealed record DatasetUploadOptions
{
    /// <summary>The default chunk size, 512 MiB, as in the Python SDK.</summary>
    public const long DefaultChunkSize = 512L << 20;

    /// <summary>
    /// The most file bytes one zip chunk holds (a larger file gets a chunk of its own); zero or less puts every
    /// file in one chunk. Default 512 MiB.
    /// </summary>
    public long ChunkSize { get; init; } = DefaultChunkSize;

    /// <summary>Another file server (base URL) to store the chunks on; default the version's output destination, else the configured file server.</summary>
    public Uri? OutputUrl { get; init; }

    /// <summary>How many chunks are zipped and uploaded at the same time. Default 4.</summary>
    public int MaxParallelUploads { get; init; } = 4;

    /// <summary>The zip compression; <see cref="CompressionLevel.NoCompression"/> stores the files as they are. Default optimal (deflate).</summary>
    public CompressionLevel Compression { get; init; } = CompressionLevel.Optimal;
}

/// <summary>Where and how <see cref="DatasetVersion.GetLocalCopyAsync"/> assembles a version.</summary>
public sealed record LocalCopyOptions
{
    /// <summary>
    /// The cache root; the version goes to <c>&lt;root&gt;/&lt;version id&gt;</c>. Default
    /// <see cref="ClientOptions.DatasetCacheDirectory"/>, else <c>~/.slipway/cache/datasets</c>.
    /// </summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Also copy the files (real files, not links) into this folder, which must be empty or missing unless <see cref="Overwrite"/>.</summary>
    public string? CopyTo { get; init; }

    /// <summary>Empty a non-empty <see cref="CopyTo"/> folder first instead of refusing it.</summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// How many downloads run at the same time: whole chunks, or parts of one when a version has fewer chunks than
    /// this. Default the number of processors, at least 4 and at most 16.
    /// </summary>
    public int MaxParallelDownloads { get; init; } = Math.Clamp(Environment.ProcessorCount, 4, 16);

    /// <summary>
    /// On a cache hit, re-hash every cached file instead of trusting sizes and modification times. Default false
    /// (a fresh copy is checked against the manifest's SHA-256 unless <see cref="VerifyHashes"/> is off).
    /// </summary>
    public bool VerifyCachedHashes { get; init; }

    /// <summary>
    /// Check every downloaded file against the manifest's SHA-256. Default true. Off, only sizes are checked, as the
    /// Python SDK's <c>get_local_copy</c> does: hashing is about a quarter of a get's CPU when the disk is fast. A copy
    /// made this way is hashed on the next get that asks for checked files.
    /// </summary>
    public bool VerifyHashes { get; init; } = true;
}
