using System.Text.RegularExpressions;

namespace Slipway.Server.Storage.Postgres;

public sealed partial class PostgresDialect : SqlDialect
{
    public override string Text(JsonPathRef path) => $"(doc #>> {path.Sql})";

    public override string Value(JsonPathRef path) => $"(doc #> {path.Sql})";

    public override string Regex(string textExpr, string patternParam) => $"{textExpr} ~ {patternParam}";

    public override string InList(string textExpr, IReadOnlyList<string> values, SqlParameters parameters) =>
        $"{textExpr} = ANY({parameters.Add(values.ToArray())})";

    public override string IsTrue(JsonPathRef path) => $"coalesce((doc #> {path.Sql}) = 'true'::jsonb, false)";

    public override string Number(JsonPathRef path) => $"((doc #>> {path.Sql})::numeric)";

    public override string DocContains(string textParam) => $"strpos(doc::text, {textParam}) > 0";

    public override string ArrayContains(JsonPathRef path, string valueParam) => $"(doc #> {path.Sql}) @> jsonb_build_array({valueParam}::text)";

    public override string ArrayEmpty(JsonPathRef path) =>
        $"(CASE WHEN jsonb_typeof(doc #> {path.Sql}) = 'array' THEN jsonb_array_length(doc #> {path.Sql}) ELSE 0 END) = 0";

    public override string ContainsIgnoreCase(string textExpr, string likeParam) => $"{textExpr} ILIKE {likeParam} ESCAPE '\\'";

    public override JsonPathRef Path(string dotted, SqlParameters parameters)
    {
        var segments = dotted.Split('.');
        return PlainPath().IsMatch(dotted)
            ? new JsonPathRef($"'{{{string.Join(',', segments)}}}'")
            : new JsonPathRef(parameters.Add(segments) + "::text[]");
    }

    // Missing values sort as the smallest, as on the embedded engine.
    public override string OrderNulls(bool descending) => descending ? " NULLS LAST" : " NULLS FIRST";

    public override string JsonParameter(string param) => $"CAST({param} AS jsonb)";

    // As for last_update: across all projects and within one, in the descending order (backwards: the ascending one).
    // CONCURRENTLY: writes to the table go on while the index is built (the statement must run outside a transaction).
    public override IReadOnlyList<IndexDdl>? SortIndex(string table, string name, JsonPathRef path) =>
        path.Sql.StartsWith('\'') ?
        [
            new(name, $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({Value(path)} DESC NULLS LAST, id DESC)"),
            new(name + "_project",
                $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name}_project ON {table} ((doc #>> '{{project}}'), {Value(path)} DESC NULLS LAST, id DESC)"),
        ] : null;

    // pg_index rather than pg_indexes: a concurrent build that failed leaves its index listed but not valid, and such an
    // index neither serves queries nor is rebuilt by IF NOT EXISTS.
    public override string IndexCatalog(string tableParam, string prefixParam) => $"""
        SELECT c.relname, i.indisvalid FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = {tableParam} AND pg_table_is_visible(t.oid) AND left(c.relname, length({prefixParam})) = {prefixParam}
        """;

    public override string DropIndex(string name) => $"DROP INDEX CONCURRENTLY IF EXISTS {name}";

    // Letters, digits and underscores only (metric keys are hex hashes): written into the SQL, so that an index on the
    // expression matches the query text.
    [GeneratedRegex("^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$")]
    private static partial Regex PlainPath();
}
