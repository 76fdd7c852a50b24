using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Serving;

/// <summary>What an enum, value or counter variable measured: its sum (counter), last value (value) and counts per value (enum).</summary>
public sealed record MeasuredVariable(string Name, string Type, double Sum, double? Last, IReadOnlyList<(string Value, long Count)> Values);

/// <summary>One user-defined variable of a metric rule: scalar (histogram over bounds), enum (count per value), value (last) or counter (sum).</summary>
public sealed record MetricVariable(string Name, string Type, IReadOnlyList<double> Bounds, IReadOnlyList<string> Values);

/// <summary>
/// A metric rule as the server keeps it on the endpoint (clearml-serving's <c>metrics add</c>): the share of requests measured
/// and the variables, read from the request's JSON object, the answer's, and what Preprocess code collects.
/// </summary>
public sealed record MetricRule(double LogFrequency, IReadOnlyList<MetricVariable> Variables)
{
    /// <summary>The rules of an endpoint by version key ("N" or "*"); malformed entries are skipped (the server checks them).</summary>
    public static IReadOnlyDictionary<string, MetricRule> Parse(JsonNode? metrics)
    {
        var rules = new Dictionary<string, MetricRule>(StringComparer.Ordinal);
        if (metrics is not JsonObject byVersion)
            return rules;
        foreach (var (key, node) in byVersion)
        {
            if (node is not JsonObject rule)
                continue;
            var variables = new List<MetricVariable>();
            foreach (var (name, v) in rule["variables"] as JsonObject ?? [])
            {
                if (v is not JsonObject variable || variable["type"]?.GetValue<string>() is not { } type)
                    continue;
                var buckets = variable["buckets"] as JsonArray ?? [];
                var bounds = type == "scalar" ? buckets.Select(b => b is JsonValue n && n.GetValueKind() == JsonValueKind.Number ? n.GetValue<double>() : double.NaN).Where(double.IsFinite).Order().ToList() : [];
                var values = type == "enum" ? buckets.OfType<JsonValue>().Select(b => b.ToString()).ToList() : [];
                variables.Add(new MetricVariable(name, type, bounds, values));
            }
            var frequency = rule["log_frequency"] is JsonValue f && f.GetValueKind() == JsonValueKind.Number ? f.GetValue<double>() : 1.0;
            rules[key] = new MetricRule(Math.Clamp(frequency, 0, 1), variables);
        }
        return rules;
    }

    /// <summary>The rule of a version: its own, else the endpoint's "*" rule.</summary>
    public static MetricRule? For(IReadOnlyDictionary<string, MetricRule> rules, long version) =>
        rules.GetValueOrDefault(version.ToString(CultureInfo.InvariantCulture)) ?? rules.GetValueOrDefault("*");

    /// <summary>Whether this request is measured: every one at a frequency of 1, none at 0, else at random in that share.</summary>
    public bool Samples(Random random) => LogFrequency >= 1 || (LogFrequency > 0 && random.NextDouble() < LogFrequency);
}

/// <summary>
/// What one version measured for its metric rule: per variable a histogram, counts per value, a last value or a sum, and how
/// many requests were measured (so a sampled rule can be scaled back by its frequency). A variable whose definition changes
/// starts again from zero.
/// </summary>
public sealed class UserMetrics
{
    /// <summary>Values of an enum variable that are not among its listed ones are counted under this one.</summary>
    public const string OtherValue = "_other";
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, (MetricVariable Definition, Measured Data)> _variables = new(StringComparer.Ordinal);
    private long _sampled;

    private sealed class Measured
    {
        public long[] Buckets = [];
        public double Sum;
        public long Count;
        public readonly SortedDictionary<string, long> Values = new(StringComparer.Ordinal);
        public double Last;
        public bool HasLast;
    }

    public long Sampled => Interlocked.Read(ref _sampled);

    /// <summary>Records a measured request: each variable of the rule found in the custom statistics, the request or the answer.</summary>
    public void Record(MetricRule rule, ReadOnlySpan<byte> request, ReadOnlySpan<byte> answer, JsonElement? custom)
    {
        var found = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        // As clearml-serving: the request's fields, then the answer's, then what the code collected, the later winning.
        Collect(request, rule, found);
        Collect(answer, rule, found);
        if (custom is { ValueKind: JsonValueKind.Object } statistics)
        {
            foreach (var p in statistics.EnumerateObject())
                found[p.Name] = p.Value;
        }
        lock (_lock)
        {
            _sampled++;
            foreach (var variable in rule.Variables)
            {
                if (!found.TryGetValue(variable.Name, out var value))
                    continue;
                if (!_variables.TryGetValue(variable.Name, out var entry) || !Same(entry.Definition, variable))
                    _variables[variable.Name] = entry = (variable, new Measured { Buckets = new long[variable.Bounds.Count + 1] });
                Observe(variable, entry.Data, value);
            }
        }
    }

    private static bool Same(MetricVariable a, MetricVariable b) =>
        a.Type == b.Type && a.Bounds.SequenceEqual(b.Bounds) && a.Values.SequenceEqual(b.Values);

    private static void Collect(ReadOnlySpan<byte> json, MetricRule rule, Dictionary<string, JsonElement> found)
    {
        if (json.IsEmpty || json[0] != (byte)'{')
            return;
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            foreach (var variable in rule.Variables)
            {
                if (doc.RootElement.TryGetProperty(variable.Name, out var value))
                    found[variable.Name] = value.Clone();
            }
        }
        catch (JsonException)
        {
            // Not JSON after all (raw bytes that start with a brace): nothing to measure in it.
        }
    }

    private static void Observe(MetricVariable variable, Measured data, JsonElement value)
    {
        // A list (a batch) counts each of its items, as clearml-serving's histograms do; a counter adds them all up.
        if (value.ValueKind == JsonValueKind.Array && variable.Type is "scalar" or "enum" or "counter")
        {
            foreach (var item in value.EnumerateArray())
                Observe(variable, data, item);
            return;
        }
        switch (variable.Type)
        {
            case "scalar" when Number(value) is { } x:
                var i = 0;
                while (i < variable.Bounds.Count && x > variable.Bounds[i])
                    i++;
                data.Buckets[i]++;
                data.Sum += x;
                data.Count++;
                break;
            case "enum":
                var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
                var label = variable.Values.Contains(text) ? text : OtherValue;
                data.Values[label] = data.Values.GetValueOrDefault(label) + 1;
                break;
            case "value" when Number(value) is { } last:
                data.Last = last;
                data.HasLast = true;
                break;
            case "counter" when Number(value) is { } amount:
                data.Sum += amount;
                data.Count++;
                break;
        }
    }

    private static double? Number(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.True => 1,
        JsonValueKind.False => 0,
        JsonValueKind.String when double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => null,
    };

    /// <summary>The enum, value and counter variables measured so far, copied for the meter's observable instruments.</summary>
    public IReadOnlyList<MeasuredVariable> Snapshot()
    {
        lock (_lock)
        {
            return _variables.Where(v => v.Value.Definition.Type != "scalar")
                .Select(v => new MeasuredVariable(v.Key, v.Value.Definition.Type, v.Value.Data.Sum, v.Value.Data.HasLast ? v.Value.Data.Last : null,
                    v.Value.Data.Values.Select(p => (p.Key, p.Value)).ToList()))
                .ToList();
        }
    }

    /// <summary>
    /// Appends this version's scalar variables as Prometheus histograms (the caller writes the header). These stay
    /// hand-written: an OpenTelemetry histogram takes its bucket boundaries once, when its instrument is created (advice) or
    /// when the meter provider is built (a view), while each endpoint's rule sets its own and may change them at any time,
    /// which starts the variable again from zero; and the API has no observable histogram that could report these counts.
    /// </summary>
    public void AppendScalars(string labels, StringBuilder scalars)
    {
        lock (_lock)
        {
            foreach (var (name, (definition, data)) in _variables)
            {
                if (definition.Type != "scalar")
                    continue;
                var series = $"{labels},variable=\"{ServingHost.Escape(name)}\"";
                long cumulative = 0;
                for (var i = 0; i < definition.Bounds.Count; i++)
                {
                    cumulative += data.Buckets[i];
                    scalars.Append(CultureInfo.InvariantCulture, $"slipway_serving_metric_scalar_bucket{{{series},le=\"{definition.Bounds[i]:R}\"}} {cumulative}\n");
                }
                cumulative += data.Buckets[^1];
                scalars.Append(CultureInfo.InvariantCulture, $"slipway_serving_metric_scalar_bucket{{{series},le=\"+Inf\"}} {cumulative}\n");
                scalars.Append(CultureInfo.InvariantCulture, $"slipway_serving_metric_scalar_sum{{{series}}} {data.Sum:R}\n");
                scalars.Append(CultureInfo.InvariantCulture, $"slipway_serving_metric_scalar_count{{{series}}} {data.Count}\n");
            }
        }
    }
}
