using System.Text.RegularExpressions;

namespace Slipway.Server.Storage.Sqlite;

public sealed partial class SqliteDialect : SqlDialect
{
    public override string Text(JsonPathRef path) => $"json_extract(doc, {path.Sql})";

    public override string Value(JsonPathRef path) => $"json_extract(doc, {path.Sql})";

    // regexp(pattern, value) is registered on every connection by SqliteDatabase.
    public override string Regex(string textExpr, string patternParam) => $"{textExpr} REGEXP {patternParam}";

    // json_extract gives 1 for true (and 1 for the number 1: a boolean field never holds numbers here).
    public override string IsTrue(JsonPathRef path) => $"coalesce(json_type(doc, {path.Sql}) = 'true', 0)";

    public override string Number(JsonPathRef path) => $"json_extract(doc, {path.Sql})";

    public override string DocContains(string textParam) => $"instr(doc, {textParam}) > 0";

    public override string ArrayContains(JsonPathRef path, string valueParam) =>
        $"EXISTS (SELECT 1 FROM json_each(doc, {path.Sql}) WHERE value = {valueParam})";

    public override string ArrayEmpty(JsonPathRef path) => $"coalesce(json_array_length(doc, {path.Sql}), 0) = 0";

    public override string ContainsIgnoreCase(string textExpr, string likeParam) => $"{textExpr} LIKE {likeParam} ESCAPE '\\'";

    public override JsonPathRef Path(string dotted, SqlParameters parameters)
    {
        var segments = dotted.Split('.');
        if (PlainPath().IsMatch(dotted))
            return new JsonPathRef($"'$.{dotted}'");
        var quoted = "$" + string.Concat(segments.Select(s => s.Contains('"', StringComparison.Ordinal)
            ? throw new InvalidQueryException($"field name not supported: {dotted}")
            : $".\"{s}\""));
        return new JsonPathRef(parameters.Add(quoted));
    }

    // SQLite sorts NULL as the smallest value, as the reference server's database does.
    public override string OrderNulls(bool descending) => "";

    public override string JsonParameter(string param) => param;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$")]
    private static partial Regex PlainPath();
}
