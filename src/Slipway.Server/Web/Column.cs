using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Web;

/// <summary>
/// A column a user adds to the experiments table: a metric's last, min or max value (<c>last_metrics.M.V.field</c>, keyed
/// by the hashes the server stores) or a hyperparameter (<c>hyperparams.section.name.value</c>). The table sorts by its path.
/// </summary>
public sealed record Column(string Label, string Path, string Field)
{
    public string SortPath => Field.Length == 0 ? Path : $"{Path}.{Field}";

    public string Header => Field.Length == 0 ? Label : $"{Label} ({AggregateName(Field)})";

    public static string AggregateName(string field) => field switch { "min_value" => "min", "max_value" => "max", _ => "last" };

    public string Value(JsonObject task)
    {
        var node = Json.Get(task, SortPath);
        return Field.Length == 0 ? node?.ToString() ?? "" : Format.Number(Json.GetDouble(node));
    }

    /// <summary>The metrics reported by these tasks, one choice per metric and variant (monitoring metrics last).</summary>
    public static List<Column> MetricsOf(IEnumerable<JsonObject> tasks) =>
        tasks.SelectMany(t => (t["last_metrics"] as JsonObject ?? []).SelectMany(m => (m.Value as JsonObject ?? []).Select(v => (m.Key, v.Key, v.Value as JsonObject))))
            .Where(x => x.Item3 is not null)
            .Select(x => new Column($"{Json.GetString(x.Item3!, "metric")} / {Json.GetString(x.Item3!, "variant")}", $"last_metrics.{x.Item1}.{x.Item2}", "value"))
            .DistinctBy(c => c.Path)
            .OrderBy(c => c.Label.StartsWith(":monitor:", StringComparison.Ordinal)).ThenBy(c => c.Label, StringComparer.Ordinal)
            .ToList();

    /// <summary>The hyperparameters of these tasks, as section/name.</summary>
    public static List<Column> ParamsOf(IEnumerable<JsonObject> tasks) =>
        tasks.SelectMany(t => (t["hyperparams"] as JsonObject ?? []).SelectMany(s => (s.Value as JsonObject ?? []).Select(p => (Section: s.Key, Name: p.Key))))
            .Distinct()
            .Where(p => !p.Name.Contains('.', StringComparison.Ordinal) && !p.Section.Contains('.', StringComparison.Ordinal))
            .Select(p => new Column($"{p.Section}/{p.Name}", $"hyperparams.{p.Section}.{p.Name}.value", ""))
            .OrderBy(c => c.Label, StringComparer.Ordinal)
            .ToList();
}
