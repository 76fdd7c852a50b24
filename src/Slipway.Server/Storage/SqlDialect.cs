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

    /// <summary>DDL for an index that serves ORDER BY on the path, or null where the engine does not get one.</summary>
    public virtual string? SortIndex(string table, string name, JsonPathRef path) => null;

    public abstract string ContainsIgnoreCase(string textExpr, string likeParam);

    /// <summary>Returns the SQL for a path, inlined when its segments are plain names (so expression indexes match), else bound as a parameter.</summary>
    public abstract JsonPathRef Path(string dotted, SqlParameters parameters);

    public abstract string OrderNulls(bool descending);

    /// <summary>A bound parameter that holds a JSON document as text.</summary>
    public abstract string JsonParameter(string param);
}

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
