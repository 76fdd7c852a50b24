namespace Slipway.Server.Storage;

/// <summary>One scalar point of a series.</summary>
public readonly record struct ScalarPoint(long Iter, double? Value, long Timestamp);

/// <summary>A scalar to store: which series, and the point.</summary>
public readonly record struct ScalarEvent(string Task, string Metric, string Variant, ScalarPoint Point);

/// <summary>A non-scalar event (log, plot, debug image, vector). Non-log events have an id and overwrite.</summary>
public sealed record StoredEvent(string Task, string Type, string? EventId, long Iter, string Metric, string Variant, long Timestamp, string Doc)
{
    public long Seq { get; init; }
}

/// <summary>A scalar series of a task, with its extent.</summary>
public sealed record ScalarSeries(long Id, string Task, string Metric, string Variant, long Count, long MinIter, long MaxIter);

/// <summary>The min and max points of one bucket of one pyramid level.</summary>
public readonly record struct ScalarBucket(long Bucket, long Count, ScalarPoint Min, ScalarPoint Max);

/// <summary>Which non-scalar events to read.</summary>
public sealed record EventQuery(IReadOnlyList<string> Tasks, IReadOnlyList<string> Types)
{
    /// <summary>Metric names to keep (empty: all); with variants per metric where given.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Metrics { get; init; }
    public bool Descending { get; init; }
    /// <summary>Continue after this (timestamp, seq) position in the chosen order.</summary>
    public (long Timestamp, long Seq)? After { get; init; }
    public int Limit { get; init; } = 500;
}

/// <summary>Events: scalars in compact series with a downsampling pyramid; other events as documents.</summary>
public interface IEventStore
{
    /// <summary>Stores a batch; when the task completes every event in it is durable.</summary>
    Task AddAsync(IReadOnlyList<ScalarEvent> scalars, IReadOnlyList<StoredEvent> others, CancellationToken ct = default);

    Task<List<ScalarSeries>> GetSeriesAsync(IReadOnlyList<string> tasks, CancellationToken ct = default);

    Task<List<ScalarPoint>> GetScalarsAsync(long series, CancellationToken ct = default);

    /// <summary>The points of a series whose iterations lie in [fromIter, toIter], in iteration order; reads only the chunks that range covers.</summary>
    Task<List<ScalarPoint>> GetScalarsAsync(long series, long fromIter, long toIter, CancellationToken ct = default);

    Task<List<ScalarBucket>> GetBucketsAsync(long series, int level, CancellationToken ct = default);

    /// <summary>The buckets of one level numbered fromBucket to toBucket (inclusive), in bucket order.</summary>
    Task<List<ScalarBucket>> GetBucketsAsync(long series, int level, long fromBucket, long toBucket, CancellationToken ct = default);

    Task<List<StoredEvent>> GetEventsAsync(EventQuery query, CancellationToken ct = default);

    Task<long> CountEventsAsync(IReadOnlyList<string> tasks, IReadOnlyList<string> types, CancellationToken ct = default);

    Task DeleteTaskEventsAsync(string task, CancellationToken ct = default);
}
