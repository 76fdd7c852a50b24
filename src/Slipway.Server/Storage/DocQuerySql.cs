using System.Text;

namespace Slipway.Server.Storage;

/// <summary>Translates a <see cref="DocQuery"/> into a WHERE / ORDER BY / LIMIT clause for a dialect.</summary>
public static class DocQuerySql
{
    public static string Where(DocQuery query, SqlDialect dialect, SqlParameters parameters)
    {
        if (query.Filters.Count == 0)
            return "";
        var ordered = query.OrderBy.Count > 0;
        var parts = query.Filters.Select(f => f is Broad broad
            ? ordered ? dialect.RowByRow(Filter(broad.Inner, dialect, parameters)) : Filter(broad.Inner, dialect, parameters)
            : Filter(f, dialect, parameters));
        return " WHERE " + string.Join(" AND ", parts);
    }

    public static string OrderAndPage(DocQuery query, SqlDialect dialect, SqlParameters parameters)
    {
        var sql = new StringBuilder();
        if (query.OrderBy.Count > 0)
        {
            sql.Append(" ORDER BY ");
            sql.AppendJoin(", ", query.OrderBy.Select(k =>
                $"{dialect.Value(dialect.Path(k.Path, parameters))} {(k.Descending ? "DESC" : "ASC")}{dialect.OrderNulls(k.Descending)}"));
            // Ties break on id in the direction of the last key, so that an index on (key, id) gives the whole order.
            sql.Append(query.OrderBy[^1].Descending ? ", id DESC" : ", id");
        }
        if (query.Take is { } take)
        {
            sql.Append(" LIMIT ").Append(take);
            if (query.Skip > 0)
                sql.Append(" OFFSET ").Append(query.Skip);
        }
        return sql.ToString();
    }

    private static string Filter(DocFilter filter, SqlDialect d, SqlParameters p) => filter switch
    {
        FieldIn { Values.Count: 0 } => "1=0",
        FieldIn f => In(f.Path == "id" ? "id" : d.Text(d.Path(f.Path, p)), f.Values, d, p),
        FieldMatches f => d.Regex(f.Path == "id" ? "id" : d.Text(d.Path(f.Path, p)), p.Add(f.Pattern)),
        FieldMissing f => $"{d.Text(d.Path(f.Path, p))} IS NULL",
        DocContains f => d.DocContains(p.Add(f.Text)),
        FieldRange f => "(" + string.Join(" AND ", new[]
        {
            f.Min is { } min ? $"{d.Number(d.Path(f.Path, p))} >= {p.Add(min)}" : null,
            f.Max is { } max ? $"{d.Number(d.Path(f.Path, p))} <= {p.Add(max)}" : null,
        }.OfType<string>().DefaultIfEmpty("1=1")) + ")",
        FieldIsBool f => f.Value ? d.IsTrue(d.Path(f.Path, p)) : $"NOT {d.IsTrue(d.Path(f.Path, p))}",
        FieldStartsWith f => $"{d.Text(d.Path(f.Path, p))} LIKE {p.Add(EscapeLike(f.Prefix) + "%")} ESCAPE '\\'",
        TextContains f => "(" + string.Join(" OR ", f.Paths.Select(path =>
            d.ContainsIgnoreCase(path == "id" ? "id" : d.Text(d.Path(path, p)), p.Add("%" + EscapeLike(f.Text) + "%")))) + ")",
        TagMatch f => Tags(f, d, p),
        AnyOf { Filters.Count: 0 } => "1=0",
        AnyOf f => "(" + string.Join(" OR ", f.Filters.Select(x => Filter(x, d, p))) + ")",
        AllOf { Filters.Count: 0 } => "1=1",
        AllOf f => "(" + string.Join(" AND ", f.Filters.Select(x => Filter(x, d, p))) + ")",
        // Only a top-level term steers the plan; nested, it is just its condition.
        Broad f => Filter(f.Inner, d, p),
        _ => throw new NotSupportedException(filter.GetType().Name),
    };

    // Engines cap a statement's parameters (SQLite 32766, PostgreSQL 65535), and one query may filter several long
    // lists; past a few dozen values the list travels as one parameter instead.
    private const int MaxInlineValues = 50;

    private static string In(string expr, IReadOnlyList<string> values, SqlDialect d, SqlParameters p) => values.Count switch
    {
        1 => $"{expr} = {p.Add(values[0])}",
        <= MaxInlineValues => $"{expr} IN ({string.Join(", ", values.Select(v => p.Add(v)))})",
        _ => d.InList(expr, values, p),
    };

    /// <summary>Joins terms as a balanced tree: SQLite refuses expressions nested deeper than 1000, which a chain of 1000 ANDs is.</summary>
    private static string Balanced(IReadOnlyList<string> terms, string op) => terms.Count switch
    {
        0 => "1=1",
        1 => terms[0],
        _ => $"({Balanced(terms.Take(terms.Count / 2).ToList(), op)}{op}{Balanced(terms.Skip(terms.Count / 2).ToList(), op)})",
    };

    private static string Tags(TagMatch match, SqlDialect d, SqlParameters p)
    {
        if (match.Query.Groups.Count == 0)
            return "1=1";
        var path = d.Path(match.Path, p);
        var groups = match.Query.Groups.Select(g =>
        {
            var terms = g.Terms.Select(t =>
            {
                if (t.Tag is null)
                    return t.Negated ? $"NOT ({d.ArrayEmpty(path)})" : d.ArrayEmpty(path);
                return t.Negated ? d.ArrayLacks(path, p.Add(t.Tag)) : d.ArrayContains(path, p.Add(t.Tag));
            }).ToList();
            return "(" + Balanced(terms, g.All ? " AND " : " OR ") + ")";
        }).ToList();
        return "(" + Balanced(groups, " AND ") + ")";
    }

    private static string EscapeLike(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
