using System.Data.Common;

namespace Slipway.Server.Storage;

/// <summary>What differs in SQL between the engines; each implementation lives beside its store.</summary>
public abstract class SqlDialect
{
    /// <summary>The JSON value at a dotted path, as text (for equality, regex and LIKE).</summary>
    public abstract string Text(JsonPathRef path);

    /// <summary>The JSON value at a dotted path, typed (numbers compare as numbers), for ordering.</summary>
    public abstract string Value(JsonPathRef path);

    public abstract string Regex(string textExpr, string patternParam);

    /// <summary>The text expression is one of many values, bound as a single parameter.</summary>
    public abstract string InList(string textExpr, IReadOnlyList<string> values, SqlParameters parameters);

    /// <summary>The JSON number at a path, as a SQL number.</summary>
    public abstract string Number(JsonPathRef path);

    /// <summary>The whole document's text contains the parameter's text.</summary>
    public abstract string DocContains(string textParam);

    /// <summary>The value at a path is JSON true.</summary>
    public abstract string IsTrue(JsonPathRef path);

    public abstract string ArrayContains(JsonPathRef path, string valueParam);

    public abstract string ArrayEmpty(JsonPathRef path);

    /// <summary>The list at the path does not hold the value (a missing list holds nothing).</summary>
    public virtual string ArrayLacks(JsonPathRef path, string valueParam) => $"NOT ({ArrayContains(path, valueParam)})";

    /// <summary>The indexes (one statement each) that serve ORDER BY on the path, or null where the engine does not get them.</summary>
    /// <summary>
    /// The condition, written so that the planner tests it on each row rather than looking rows up through an index on its
    /// fields (see <see cref="Broad"/>). By default as it is: PostgreSQL's planner has statistics and weighs the sort itself.
    /// </summary>
    public virtual string RowByRow(string condition) => condition;

    public virtual IReadOnlyList<IndexDdl>? SortIndex(string table, string name, JsonPathRef path) => null;

    /// <summary>
    /// A query over the engine's catalog for the table's indexes whose names start with @prefix: name, and whether the index
    /// is usable (1/true). The catalog is shared by every process on the database, so what it lists holds across restarts
    /// and replicas.
    /// </summary>
    public abstract string IndexCatalog(string tableParam, string prefixParam);

    /// <summary>Removes an index that cannot be used (a build that did not finish) so that it can be built again.</summary>
    public abstract string DropIndex(string name);

    public abstract string ContainsIgnoreCase(string textExpr, string likeParam);

    /// <summary>Returns the SQL for a path, inlined when its segments are plain names (so expression indexes match), else bound as a parameter.</summary>
    public abstract JsonPathRef Path(string dotted, SqlParameters parameters);

    public abstract string OrderNulls(bool descending);

    /// <summary>A bound parameter that holds a JSON document as text.</summary>
    public abstract string JsonParameter(string param);
}

/// <summary>One index's name and the statement that creates it (if it does not exist yet).</summary>
public readonly record struct IndexDdl(string Name, string Sql);

/// <summary>A JSON path in the form the dialect put it (literal text or a parameter name).</summary>
public readonly record struct JsonPathRef(string Sql);

/// <summary>Collects bound parameters while a statement is built.</summary>
public sealed class SqlParameters
{
    private readonly List<(string Name, object Value)> _values = [];

    public string Add(object value)
    {
        var name = "@p" + _values.Count;
        _values.Add((name, value));
        return name;
    }

    public void ApplyTo(DbCommand command)
    {
        foreach (var (name, value) in _values)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            command.Parameters.Add(p);
        }
    }
}
