using System.Text.RegularExpressions;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>The list-query fields every <c>*.get_all</c> shares, turned into a <see cref="DocQuery"/>.</summary>
public static class ListRequest
{
    public const string Fields = "id name tags system_tags only_fields order_by page page_size search_hidden search_text _all_ _any_ size scroll_id refresh_scroll";
    public const int MaxPageSize = 10_000;

    /// <summary>Reads ids, name regex, tags, search text, hidden rule, ordering and paging.</summary>
    public static DocQuery Build(RpcCall call, IEnumerable<string> textSearchFields)
    {
        var query = new DocQuery();
        var ids = call.StringList("id");
        if (ids is not null)
            query.Where(new FieldIn("id", ids));
        if (call.String("name") is { Length: > 0 } name)
            query.Where(new FieldMatches("name", CheckedPattern(name, "name")));
        if (call.NullableStringList("tags") is { Count: > 0 } tags)
            query.Where(new TagMatch("tags", TagQuery.Parse(tags)));
        if (call.NullableStringList("system_tags") is { Count: > 0 } systemTags)
            query.Where(new TagMatch("system_tags", TagQuery.Parse(systemTags)));
        if (call.String("search_text") is { Length: > 0 } text)
            query.Where(new TextContains([.. textSearchFields], RequestLimits.CheckLength("search_text", text, RequestLimits.MaxSearchText)));
        if (ids is null && !call.Bool("search_hidden"))
            query.Where(new TagMatch("system_tags", TagQuery.Parse(["-hidden"])));

        foreach (var key in call.StringList("order_by") ?? [])
        {
            if (key.Length == 0)
                continue;
            var descending = key[0] == '-';
            var path = key.TrimStart('-', '+');
            if (path.Length == 0 || path.Split('.').Any(s => s.Length == 0))
                throw ApiException.Validation($"invalid order_by field '{key}'");
            query.OrderBy.Add(new SortKey(path, descending));
        }
        var page = call.Int("page");
        var pageSize = call.Int("page_size") ?? call.Int("size");
        if (page is < 0 || pageSize is < 0)
            throw ApiException.Validation("page and page_size must not be negative");
        if (pageSize is { } size)
        {
            query.Take = Math.Min(size, MaxPageSize);
            var skip = (long)(page ?? 0) * query.Take.Value;
            query.Skip = skip <= RequestLimits.MaxOffset
                ? (int)skip
                : throw ApiException.Validation($"page * page_size is {skip}; at most {RequestLimits.MaxOffset} rows can be skipped");
        }
        else if (page is > 0)
        {
            throw ApiException.Validation("page requires page_size");
        }
        return query;
    }

    /// <summary>Checks a regular expression before it reaches the store, so a bad or overlong one is a 400, not an engine error.</summary>
    public static string CheckedPattern(string pattern, string field)
    {
        _ = Pattern(pattern, field);
        return pattern;
    }

    /// <summary>A caller's regular expression compiled for matching in memory, with the match timeout of <see cref="UserRegex"/>.</summary>
    public static Regex Pattern(string pattern, string field)
    {
        RequestLimits.CheckLength(field, pattern, RequestLimits.MaxPattern);
        try
        {
            return UserRegex.Compile(pattern);
        }
        catch (ArgumentException e)
        {
            throw ApiException.Validation($"field '{field}' is not a valid regular expression: {e.Message}");
        }
    }

    /// <summary>Adds an "any of these values" filter for a field such as project, status or type (null matches a missing value).</summary>
    public static void AddIn(RpcCall call, DocQuery query, string field, string path)
    {
        if (call.NullableStringList(field) is not { Count: > 0 } values)
            return;
        if (values.Contains(null))
            query.Where(new FieldMissing(path));
        else
            query.Where(new FieldIn(path, values.OfType<string>().ToList()));
    }
}
