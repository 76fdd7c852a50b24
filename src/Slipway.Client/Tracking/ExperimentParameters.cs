using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client.Tracking;

public sealed partial class Experiment
{
    /// <summary>
    /// Records an object's public settable properties (numbers, strings, booleans, enums), or a dictionary's
    /// entries, as hyperparameters of <paramref name="section"/>. In remote mode the server's values are written into the object first, so a
    /// clone edited in the UI runs with the edited values. Returns the same object.
    /// </summary>
    public async Task<T> ConnectAsync<T>(T parameters, string section = "General", CancellationToken cancellationToken = default) where T : class
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters is IDictionary<string, object?> dictionary)
        {
            await ConnectAsync(dictionary, section, cancellationToken).ConfigureAwait(false);
            return parameters;
        }
        if (parameters is IDictionary<string, string> strings)
        {
            var copy = strings.ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
            await ConnectAsync(copy, section, cancellationToken).ConfigureAwait(false);
            foreach (var (key, value) in copy)
                strings[key] = (string)value!;
            return parameters;
        }
        var items = new List<(string Name, string Value, string Type)>();
        foreach (var property in ParameterProperties(parameters.GetType()))
        {
            if (_remoteParameters.TryGetValue($"{section}/{property.Name}", out var remote))
                property.SetValue(parameters, ParseParameter(section, property.Name, remote, property.PropertyType));
            items.Add((property.Name, Format(property.GetValue(parameters)), TypeName(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType)));
        }
        await SendParametersAsync(section, items, cancellationToken).ConfigureAwait(false);
        return parameters;
    }

    /// <summary>
    /// Records a dictionary as hyperparameters of <paramref name="section"/>. In remote mode the server's values
    /// replace the entries (converted to each entry's current type). Returns the same dictionary.
    /// </summary>
    public async Task<IDictionary<string, object?>> ConnectAsync(IDictionary<string, object?> parameters, string section = "General", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var items = new List<(string, string, string)>();
        foreach (var key in parameters.Keys.ToList())
        {
            var type = parameters[key]?.GetType() ?? typeof(string);
            if (_remoteParameters.TryGetValue($"{section}/{key}", out var remote))
                parameters[key] = ParseParameter(section, key, remote, type);
            items.Add((key, Format(parameters[key]), TypeName(type)));
        }
        await SendParametersAsync(section, items, cancellationToken).ConfigureAwait(false);
        return parameters;
    }

    /// <summary>A hyperparameter's value as the server has it (<c>"Section/name"</c>), or null.</summary>
    public async Task<string?> GetParameterAsync(string key, CancellationToken cancellationToken = default) =>
        (await Client.Tasks.GetAsync(Id, cancellationToken).ConfigureAwait(false)).Parameters.GetValueOrDefault(key);

    /// <summary>
    /// Records a configuration object (text: JSON, YAML, HOCON, ...) under <paramref name="name"/>. In remote mode
    /// returns the server's text, which may have been edited; otherwise returns <paramref name="text"/>.
    /// </summary>
    public async Task<string> ConnectConfigurationAsync(string name, string text, string type = "text", CancellationToken cancellationToken = default)
    {
        if (IsRemote && _remoteConfiguration.TryGetValue(name, out var remote))
            return remote;
        await Client.CallAsync("tasks.edit_configuration", new JsonObject
        {
            ["task"] = Id,
            ["configuration"] = new JsonArray(new JsonObject { ["name"] = name, ["value"] = text, ["type"] = type }),
            ["replace_configuration"] = false,
            ["force"] = true,
        }, cancellationToken).ConfigureAwait(false);
        return text;
    }

    /// <summary>Records an object as a JSON configuration; in remote mode returns the server's version of it.</summary>
    public async Task<T> ConnectConfigurationAsync<T>(string name, T configuration, JsonSerializerOptions? json = null, CancellationToken cancellationToken = default)
    {
        json ??= new JsonSerializerOptions { WriteIndented = true };
        var text = await ConnectConfigurationAsync(name, JsonSerializer.Serialize(configuration, json), "json", cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize<T>(text, json) ?? configuration;
        }
        catch (JsonException e)
        {
            throw new SlipwayException($"configuration '{name}' of task {Id} is not valid JSON for {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Records <c>--name value</c>, <c>--name=value</c> and <c>--flag</c> arguments as the <c>Args</c> section and
    /// returns the arguments to use: in remote mode with the server's values substituted.
    /// </summary>
    private async Task<IReadOnlyList<string>> ConnectArgumentsAsync(string[] args, CancellationToken ct)
    {
        var result = args.ToArray();
        var items = new List<(string, string, string)>();
        for (var i = 0; i < result.Length; i++)
        {
            if (!result[i].StartsWith("--", StringComparison.Ordinal) || result[i].Length == 2)
                continue;
            var eq = result[i].IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? result[i][2..eq] : result[i][2..];
            var hasValue = eq > 0 || (i + 1 < result.Length && !result[i + 1].StartsWith("--", StringComparison.Ordinal));
            var value = eq > 0 ? result[i][(eq + 1)..] : hasValue ? result[i + 1] : "true";
            if (_remoteParameters.TryGetValue($"Args/{name}", out var remote))
            {
                value = remote;
                if (eq > 0)
                    result[i] = $"--{name}={remote}";
                else if (hasValue)
                    result[i + 1] = remote;
            }
            items.Add((name, value, "str"));
            if (eq < 0 && hasValue)
                i++;
        }
        if (items.Count > 0)
            await SendParametersAsync("Args", items, ct).ConfigureAwait(false);
        return result;
    }

    private async Task SendParametersAsync(string section, List<(string Name, string Value, string Type)> items, CancellationToken ct)
    {
        if (IsRemote || items.Count == 0)
            return; // in remote mode the server's values are the truth; nothing is sent back
        await Client.CallAsync("tasks.edit_hyper_params", new JsonObject
        {
            ["task"] = Id,
            ["hyperparams"] = new JsonArray(items.Select(p => (JsonNode)new JsonObject
            {
                ["section"] = section,
                ["name"] = p.Name,
                ["value"] = p.Value,
                ["type"] = p.Type,
            }).ToArray()),
            ["replace_hyperparams"] = "none",
            ["force"] = true,
        }, ct).ConfigureAwait(false);
    }

    private object? ParseParameter(string section, string name, string text, Type type)
    {
        try
        {
            return Parse(text, type);
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException or ArgumentException)
        {
            throw new SlipwayException($"hyperparameter {section}/{name} of task {Id} is '{text}', which is not a valid {TypeName(type)}", e);
        }
    }
}
