using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Serving.Python;

/// <summary>
/// What a version's Preprocess code collected through <c>collect_custom_statistics_fn</c>: per variable, numbers as a count,
/// a sum and the last value, other values (strings, booleans) counted per value, as clearml-serving's enum metrics. The
/// number of variables and of values per variable is capped, so user code cannot grow the metrics without bound.
/// </summary>
public sealed class CustomStatistics
{
    public const int MaxVariables = 64;
    public const int MaxValuesPerVariable = 32;

    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Variable> _variables = new(StringComparer.Ordinal);

    public sealed class Variable
    {
        public long Count { get; internal set; }
        public double Sum { get; internal set; }
        public double Last { get; internal set; }
        public SortedDictionary<string, long> Values { get; } = new(StringComparer.Ordinal);
    }

    public bool IsEmpty
    {
        get
        {
            lock (_lock)
                return _variables.Count == 0;
        }
    }

    public void Record(JsonElement statistics)
    {
        if (statistics.ValueKind != JsonValueKind.Object)
            return;
        lock (_lock)
        {
            foreach (var property in statistics.EnumerateObject())
            {
                if (!_variables.TryGetValue(property.Name, out var variable))
                {
                    if (_variables.Count >= MaxVariables || property.Name.Length > 100)
                        continue;
                    _variables[property.Name] = variable = new Variable();
                }
                var value = property.Value;
                if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number))
                {
                    variable.Count++;
                    variable.Sum += number;
                    variable.Last = number;
                    continue;
                }
                var text = value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString() ?? "",
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    JsonValueKind.Null => "null",
                    _ => value.GetRawText(),
                };
                if (text.Length > 100)
                    text = text[..100];
                if (variable.Values.TryGetValue(text, out var seen))
                    variable.Values[text] = seen + 1;
                else if (variable.Values.Count < MaxValuesPerVariable)
                    variable.Values[text] = 1;
            }
        }
    }

    /// <summary>One variable's totals, copied for metrics and reports.</summary>
    public sealed record Totals(string Name, long Count, double Sum, double Last, IReadOnlyList<(string Value, long Count)> Values);

    /// <summary>A copy for metrics and reports.</summary>
    public IReadOnlyList<Totals> Snapshot()
    {
        lock (_lock)
            return _variables.Select(v => new Totals(v.Key, v.Value.Count, v.Value.Sum, v.Value.Last, v.Value.Values.Select(p => (p.Key, p.Value)).ToList())).ToList();
    }

    /// <summary>The totals as the status report carries them: {variable: {count, sum, last} or {values: {value: count}}}.</summary>
    public JsonObject ToJson()
    {
        var result = new JsonObject();
        foreach (var (name, count, sum, last, values) in Snapshot())
        {
            var entry = new JsonObject();
            if (count > 0)
            {
                entry["count"] = count;
                entry["sum"] = sum;
                entry["last"] = last;
            }
            if (values.Count > 0)
                entry["values"] = new JsonObject(values.Select(v => KeyValuePair.Create(v.Value, (JsonNode?)v.Count)));
            result[name] = entry;
        }
        return result;
    }
}
