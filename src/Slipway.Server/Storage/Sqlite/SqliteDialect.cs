using System.Text.RegularExpressions;

namespace Slipway.Server.Storage.Sqlite;

public sealed partial class SqliteDialect : SqlDialect
{
    public override string Text(JsonPathRef path) => $"json_extract(doc, {path.Sql})";

    public override string Value(JsonPathRef path) => $"json_extract(doc, {path.Sql})";

    // A unary plus hides the condition's expressions from index matching, which leaves the sort index to drive the scan.
    public override string RowByRow(string condition) => $"+({condition})";

    // regexp(pattern, value) is registered on every connection by SqliteDatabase.
    public override string Regex(string textExpr, string patternParam) => $"{textExpr} REGEXP {patternParam}";

    public override string InList(string textExpr, IReadOnlyList<string> values, SqlParameters parameters) =>
        $"{textExpr} IN (SELECT value FROM json_each({parameters.Add(new System.Text.Json.Nodes.JsonArray([.. values.Select(v => (System.Text.Json.Nodes.JsonNode)v)]).ToJsonString())}))";

    // json_extract gives 1 for true (and 1 for the number 1: a boolean field never holds numbers here).
    public override string IsTrue(JsonPathRef path) => $"coalesce(json_type(doc, {path.Sql}) = 'true', 0)";

    public override string Number(JsonPathRef path) => $"json_extract(doc, {path.Sql})";

    public override string DocContains(string textParam) => $"instr(doc, {textParam}) > 0";

    // json_each over the extracted array (stored lists are always arrays), so that an index on the list's expression
    // covers the test; an empty list, the usual case, lacks every value without being parsed.
    public override string ArrayContains(JsonPathRef path, string valueParam) =>
        $"EXISTS (SELECT 1 FROM json_each(json_extract(doc, {path.Sql})) WHERE value = {valueParam})";

    public override string ArrayLacks(JsonPathRef path, string valueParam) =>
        $"(json_extract(doc, {path.Sql}) = '[]' OR NOT {ArrayContains(path, valueParam)})";

    public override string ArrayEmpty(JsonPathRef path) => $"coalesce(json_array_length(doc, {path.Sql}), 0) = 0";

    public override string ContainsIgnoreCase(string textExpr, string likeParam) => $"{textExpr} LIKE {likeParam} ESCAPE '\\'";

    public override JsonPathRef Path(string dotted, SqlParameters parameters)
    {
        var segments = dotted.Split('.');
        // Written into the SQL when every name is letters, digits and underscores (metric keys are hex hashes; a name
        // that starts with a digit is quoted), so that an index on the expression matches the query's text.
        if (SafePath().IsMatch(dotted))
            return new JsonPathRef("'$" + string.Concat(segments.Select(s => char.IsAsciiDigit(s[0]) ? $".\"{s}\"" : "." + s)) + "'");
        var quoted = "$" + string.Concat(segments.Select(s => s.Contains('"', StringComparison.Ordinal)
            ? throw new InvalidQueryException($"field name not supported: {dotted}")
            : $".\"{s}\""));
        return new JsonPathRef(parameters.Add(quoted));
    }

    // SQLite sorts NULL as the smallest value, as the reference server's database does.
    public override string OrderNulls(bool descending) => "";

    public override string JsonParameter(string param) => param;

    // One index for the order across all projects and one within a project, as for last_update.
    public override IReadOnlyList<IndexDdl>? SortIndex(string table, string name, JsonPathRef path) =>
        path.Sql.StartsWith('\'') ?
        [
            new(name, $"CREATE INDEX IF NOT EXISTS {name} ON {table} ({Value(path)}, id)"),
            new(name + "_project", $"CREATE INDEX IF NOT EXISTS {name}_project ON {table} (json_extract(doc, '$.project'), {Value(path)}, id)"),
        ] : null;

    // SQLite builds an index inside its transaction: one that is listed is complete.
    public override string IndexCatalog(string tableParam, string prefixParam) =>
        $"SELECT name, 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = {tableParam} AND substr(name, 1, length({prefixParam})) = {prefixParam}";

    public override string DropIndex(string name) => $"DROP INDEX IF EXISTS {name}";

    [GeneratedRegex("^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$")]
    private static partial Regex SafePath();
}
