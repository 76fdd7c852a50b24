using System.Globalization;
using System.Text.Json;

namespace Slipway.Server;

/// <summary>
/// Everything `slipway server` can be told, with its defaults. Sources, later ones winning: the defaults
/// here, a JSON settings file, SLIPWAY_* environment variables, the command line.
/// </summary>
public sealed class ServerOptions
{
    public string DataDir { get; set; } = DefaultDataDir();
    public string Host { get; set; } = "0.0.0.0";
    public int ApiPort { get; set; } = 8008;
    public int WebPort { get; set; } = 8080;
    public int FilesPort { get; set; } = 8081;
    /// <summary>Empty: SQLite in the data directory. A connection string ("Host=…"): PostgreSQL.</summary>
    public string Db { get; set; } = "";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(30);
    /// <summary>Host name written into clearml.conf URLs (defaults to Host, or localhost when Host is a wildcard).</summary>
    public string? PublicHost { get; set; }

    /// <summary>Setting names as they appear in the file, the environment (SLIPWAY_ + upper case) and on the command line.</summary>
    public static readonly IReadOnlyList<string> Names = ["data", "host", "api_port", "web_port", "files_port", "db", "token_lifetime_sec", "public_host"];

    public bool UsesPostgres => Db.Contains('=', StringComparison.Ordinal);

    public string ConfigHost => PublicHost ?? (Host is "0.0.0.0" or "::" or "*" or "+" ? "localhost" : Host);

    /// <summary>Builds options from the layered sources and validates them; throws <see cref="OptionsException"/> with every problem found.</summary>
    public static ServerOptions Load(string? settingsFile, IReadOnlyDictionary<string, string?> commandLine, IDictionary<string, string?>? environment = null)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        if (settingsFile is not null)
        {
            if (!File.Exists(settingsFile))
            {
                problems.Add($"settings file not found: {settingsFile}");
            }
            else
            {
                try
                {
                    using var doc = JsonDocument.Parse(File.ReadAllText(settingsFile));
                    foreach (var p in doc.RootElement.EnumerateObject())
                        values[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException)
                {
                    problems.Add($"settings file {settingsFile} is not a JSON object: {e.Message}");
                }
            }
        }
        environment ??= Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        foreach (var name in Names)
        {
            if (environment.TryGetValue("SLIPWAY_" + name.ToUpperInvariant(), out var value) && !string.IsNullOrEmpty(value))
                values[name] = value;
        }
        foreach (var (name, value) in commandLine)
        {
            if (value is not null)
                values[name] = value;
        }

        var options = new ServerOptions();
        foreach (var (name, value) in values)
        {
            switch (name.ToLowerInvariant())
            {
                case "data": options.DataDir = Path.GetFullPath(value); break;
                case "host": options.Host = value; break;
                case "api_port": options.ApiPort = Port(name, value, problems); break;
                case "web_port": options.WebPort = Port(name, value, problems); break;
                case "files_port": options.FilesPort = Port(name, value, problems); break;
                case "db": options.Db = value; break;
                case "public_host": options.PublicHost = value; break;
                case "token_lifetime_sec":
                    if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= 300)
                        options.TokenLifetime = TimeSpan.FromSeconds(seconds);
                    else
                        problems.Add($"token_lifetime_sec must be a whole number of seconds, at least 300 (got '{value}')");
                    break;
                default: problems.Add($"unknown setting '{name}' (known: {string.Join(", ", Names)})"); break;
            }
        }
        var fixedPorts = new[] { options.ApiPort, options.WebPort, options.FilesPort }.Where(p => p != 0).ToList();
        if (fixedPorts.Count != fixedPorts.Distinct().Count())
            problems.Add("api_port, web_port and files_port must differ (0 picks a free port)");
        if (string.IsNullOrWhiteSpace(options.Host))
            problems.Add("host must not be empty");
        if (problems.Count > 0)
            throw new OptionsException(problems);
        return options;
    }

    private static int Port(string name, string value, List<string> problems)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535)
            return port;
        problems.Add($"{name} must be a port number from 0 to 65535 (got '{value}')");
        return 0;
    }

    private static string DefaultDataDir() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify) is { Length: > 0 } home
            ? home : Path.GetTempPath(), ".slipway");
}

/// <summary>Settings that cannot be used, with every reason.</summary>
public sealed class OptionsException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
