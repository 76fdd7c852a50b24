using System.Globalization;
using System.Text.Json;
using Slipway.Server.Blobs;

namespace Slipway.Server;

/// <summary>
/// Everything `slipway server` can be told, with its defaults. Sources, later ones winning: the defaults
/// here, a JSON settings file, SLIPWAY_* environment variables, the command line.
/// </summary>
public sealed class ServerOptions
{
    public string DataDir { get; set; } = DefaultDataDir();
    /// <summary>Loopback by default: the server is reachable from other machines only when asked to be (0.0.0.0).</summary>
    public string Host { get; set; } = "127.0.0.1";
    public int ApiPort { get; set; } = 8008;
    public int WebPort { get; set; } = 8080;
    public int FilesPort { get; set; } = 8081;
    /// <summary>Empty: SQLite in the data directory. A connection string ("Host=…"): PostgreSQL.</summary>
    public string Db { get; set; } = "";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(30);
    /// <summary>Where files go: empty for DIR/files on the local disk, or "s3://bucket/prefix".</summary>
    public string Blobs { get; set; } = "";
    public string? S3Endpoint { get; set; }
    public string? S3Region { get; set; }
    public string? S3AccessKey { get; set; }
    public string? S3SecretKey { get; set; }
    /// <summary>Path-style addressing (bucket in the path), which most S3-compatible servers need.</summary>
    public bool S3PathStyle { get; set; }

    /// <summary>A task in progress whose worker has not reported, nor the task pinged, for this long is marked failed.</summary>
    public TimeSpan WatchdogTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>When set (e.g. "/files"), the file server is also served under this path of the API port.</summary>
    public string FilesPath { get; set; } = "";

    /// <summary>How often deleted entities' files are cleaned up; zero turns the background pass off.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// An autoscaler configuration file; when set, <c>slipway server</c> runs that autoscaler in its own process (one-machine
    /// setups). The server library itself does not read it: the executable does.
    /// </summary>
    public string? Autoscaler { get; set; }

    /// <summary>Host name written into clearml.conf URLs (defaults to Host, or localhost when Host is a wildcard).</summary>
    public string? PublicHost { get; set; }

    /// <summary>
    /// Roles, tenants and project permissions are checked. Not a setting (no file, variable or option names it): only the
    /// benchmark that measures what the checks cost turns it off, in a server of its own.
    /// </summary>
    public bool CheckPermissions { get; set; } = true;

    /// <summary>Setting names as they appear in the file, the environment (SLIPWAY_ + upper case) and on the command line.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "data", "host", "api_port", "web_port", "files_port", "db", "token_lifetime_sec", "public_host",
        "blobs", "s3_endpoint", "s3_region", "s3_access_key", "s3_secret_key", "s3_path_style", "cleanup_interval_sec", "files_path", "watchdog_timeout_sec",
        "autoscaler",
    ];

    public bool UsesPostgres => Db.Contains('=', StringComparison.Ordinal);

    /// <summary>The S3 location when files go to S3, else null.</summary>
    public S3Location? S3 => Blobs.Length == 0 ? null
        : S3Location.ParseUri(Blobs) is var (bucket, prefix) ? new S3Location(bucket, prefix, S3Endpoint, S3Region, S3AccessKey, S3SecretKey, S3PathStyle) : null;

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
                case "autoscaler":
                    if (!File.Exists(value))
                        problems.Add($"autoscaler: no such file '{value}'");
                    options.Autoscaler = Path.GetFullPath(value);
                    break;
                case "blobs":
                    if (value.Length > 0 && (!value.StartsWith("s3://", StringComparison.Ordinal) || S3Location.ParseUri(value).Bucket.Length == 0))
                        problems.Add($"blobs must be empty (local disk) or s3://bucket[/prefix] (got '{value}')");
                    options.Blobs = value;
                    break;
                case "s3_endpoint":
                    if (!Uri.TryCreate(value, UriKind.Absolute, out _))
                        problems.Add($"s3_endpoint must be a URL (got '{value}')");
                    options.S3Endpoint = value;
                    break;
                case "s3_region": options.S3Region = value; break;
                case "watchdog_timeout_sec":
                    if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var watchdog) && watchdog >= 0)
                        options.WatchdogTimeout = TimeSpan.FromSeconds(watchdog);
                    else
                        problems.Add($"watchdog_timeout_sec must be a whole number of seconds (got '{value}')");
                    break;
                case "files_path":
                    if (value.Length > 0 && (!value.StartsWith('/') || value.EndsWith('/') || value.Contains('.', StringComparison.Ordinal)))
                        problems.Add($"files_path must look like /files (got '{value}')");
                    options.FilesPath = value;
                    break;
                case "cleanup_interval_sec":
                    if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var interval))
                        options.CleanupInterval = TimeSpan.FromSeconds(interval);
                    else
                        problems.Add($"cleanup_interval_sec must be a whole number of seconds (got '{value}')");
                    break;
                case "s3_access_key": options.S3AccessKey = value; break;
                case "s3_secret_key": options.S3SecretKey = value; break;
                case "s3_path_style":
                    if (bool.TryParse(value, out var pathStyle))
                        options.S3PathStyle = pathStyle;
                    else
                        problems.Add($"s3_path_style must be true or false (got '{value}')");
                    break;
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
