
namespace Slipway.Server.Storage;

/// <summary>A provider-neutral query over one collection: filters on dotted JSON paths, ordering and paging.</summary>
public sealed class DocQuery
{
    public List<DocFilter> Filters { get; } = [];
    public List<SortKey> OrderBy { get; } = [];
    public int Skip { get; set; }
    public int? Take { get; set; }

    public DocQuery Where(DocFilter filter)
    {
        Filters.Add(filter);
        return this;
    }
}

public readonly record struct SortKey(string Path, bool Descending);

public abstract record DocFilter;

/// <summary>The text at <paramref name="Path"/> is one of <paramref name="Values"/>.</summary>
public sealed record FieldIn(string Path, IReadOnlyList<string> Values) : DocFilter;

/// <summary>The text at <paramref name="Path"/> contains a match of a regular expression.</summary>
public sealed record FieldMatches(string Path, string Pattern) : DocFilter;

/// <summary>The string list at <paramref name="Path"/> satisfies a tag expression.</summary>
public sealed record TagMatch(string Path, TagQuery Query) : DocFilter;

/// <summary>Any of the text fields contains <paramref name="Text"/>, case-insensitively.</summary>
public sealed record TextContains(IReadOnlyList<string> Paths, string Text) : DocFilter;

/// <summary>The text at <paramref name="Path"/> is missing or null.</summary>
public sealed record FieldMissing(string Path) : DocFilter;

/// <summary>The number at <paramref name="Path"/> lies in [<paramref name="Min"/>, <paramref name="Max"/>] (either bound optional).</summary>
public sealed record FieldRange(string Path, double? Min, double? Max) : DocFilter;

/// <summary>The document's JSON text contains <paramref name="Text"/> anywhere (a coarse, case-sensitive pre-filter).</summary>
public sealed record DocContains(string Text) : DocFilter;

/// <summary>The JSON boolean at <paramref name="Path"/> is <paramref name="Value"/> (missing counts as false).</summary>
public sealed record FieldIsBool(string Path, bool Value) : DocFilter;

/// <summary>The text at <paramref name="Path"/> starts with <paramref name="Prefix"/>.</summary>
public sealed record FieldStartsWith(string Path, string Prefix) : DocFilter;

/// <summary>At least one of <paramref name="Filters"/> holds (none: nothing matches).</summary>
public sealed record AnyOf(IReadOnlyList<DocFilter> Filters) : DocFilter;

/// <summary>All of <paramref name="Filters"/> hold.</summary>
public sealed record AllOf(IReadOnlyList<DocFilter> Filters) : DocFilter;

/// <summary>
/// <paramref name="Inner"/>, known to keep most of the collection (a member's readable projects, say). In an ordered
/// query the engine should walk the sort index and test each row, stopping at the page's end, rather than gather every
/// match through the filter's own index and sort them all: without statistics SQLite takes the latter, which for a member
/// reading 20,000 tasks sorted all of them for a page of 50 (65 ms against 0.3 ms). Unordered, the filter's index serves.
/// </summary>
public sealed record Broad(DocFilter Inner) : DocFilter;

/// <summary>A count of documents per distinct value of one field.</summary>
public sealed record GroupCount(string? Key1, string? Key2, long Count);

/// <summary>A query the store cannot run as given (a regular expression the engine rejects, say).</summary>
public sealed class InvalidQueryException(string message, Exception? inner = null) : Exception(message, inner);
