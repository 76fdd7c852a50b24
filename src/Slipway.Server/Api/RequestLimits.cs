using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// The sizes one request may ask for, in one place. Each is well above what the SDK, the agent or the UI send
/// (they list a page of ids, a handful of tags, one name) and low enough that no request can make the store
/// build a statement it rejects or take minutes over: past a limit the answer is a 400 naming field and limit.
/// </summary>
public static class RequestLimits
{
    /// <summary>Items in one list field (ids, projects, statuses, ...).</summary>
    public const int MaxListItems = 10_000;

    /// <summary>Tags in a tags or system_tags field, on an entity or in a filter.</summary>
    public const int MaxTags = 1_000;

    /// <summary>Characters of search_text (the UI's search box).</summary>
    public const int MaxSearchText = 1_000;

    /// <summary>Characters of a regular expression (name, basename, worker_pattern).</summary>
    public const int MaxPattern = UserRegex.MaxLength;

    /// <summary>Rows skipped by page * page_size: SQL's OFFSET and the store's paging count in 32 bits.</summary>
    public const long MaxOffset = int.MaxValue;

    public static int MaxItems(string field) => field is "tags" or "system_tags" ? MaxTags : MaxListItems;

    public static void CheckCount(string field, int count)
    {
        var max = MaxItems(field);
        if (count > max)
            throw ApiException.Validation($"field '{field}' holds {count} items; at most {max} are accepted");
    }

    public static string CheckLength(string field, string text, int max) =>
        text.Length <= max ? text : throw ApiException.Validation($"field '{field}' is {text.Length} characters long; at most {max} are accepted");
}
