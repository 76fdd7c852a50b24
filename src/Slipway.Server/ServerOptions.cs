using Microsoft.Extensions.Configuration;
using Slipway.Server.Blobs;

namespace Slipway.Server;

/// <summary>
/// Everything `slipway server` can be told, with its defaults. Sources, later ones winning: the defaults
/// here, a JSON settings file, SLIPWAY_* environment variables, the command line. The settings themselves (keys,
/// parsing, meaning) are listed once, in <see cref="ServerSettings"/>.
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
    public static IReadOnlyList<string> Names { get; } = [.. ServerSettings.All.Select(s => s.Key)];

    public bool UsesPostgres => Db.Contains('=', StringComparison.Ordinal);

    /// <summary>The S3 location when files go to S3, else null.</summary>
    public S3Location? S3 => Blobs.Length == 0 ? null
        : S3Location.ParseUri(Blobs) is var (bucket, prefix) ? new S3Location(bucket, prefix, S3Endpoint, S3Region, S3AccessKey, S3SecretKey, S3PathStyle) : null;

    public string ConfigHost => PublicHost ?? (Host is "0.0.0.0" or "::" or "*" or "+" ? "localhost" : Host);

    /// <summary>Builds options from the layered sources and validates them; throws <see cref="OptionsException"/> with every problem found.</summary>
    public static ServerOptions Load(string? settingsFile, IReadOnlyDictionary<string, string?> commandLine, IDictionary<string, string?>? environment = null)
    {
        var problems = new List<string>();
        // The framework layers the sources (later ones win, keys in any case); the values stay text until each setting reads
        // its own, so that every bad value is named rather than the first one the binder meets.
        var sources = new ConfigurationBuilder();
        if (settingsFile is not null)
        {
            if (File.Exists(settingsFile))
                sources.AddJsonFile(Path.GetFullPath(settingsFile), optional: false, reloadOnChange: false);
            else
                problems.Add($"settings file not found: {settingsFile}");
        }
        environment ??= Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        // Only the variables that name a setting: SLIPWAY_DEBUG and the like belong to others. An empty one is unset.
        sources.AddInMemoryCollection(ServerSettings.All
            .Where(s => environment.TryGetValue(s.EnvironmentVariable, out var value) && !string.IsNullOrEmpty(value))
            .Select(s => KeyValuePair.Create(s.Key, environment[s.EnvironmentVariable])));
        sources.AddInMemoryCollection(commandLine.Where(e => e.Value is not null));
        IConfigurationRoot values;
        try
        {
            values = sources.Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            problems.Add($"settings file {settingsFile} is not a JSON object: {(e.InnerException ?? e).Message}");
            values = new ConfigurationBuilder().AddInMemoryCollection(commandLine.Where(c => c.Value is not null)).Build();
        }

        var options = new ServerOptions();
        var known = ServerSettings.All.ToDictionary(s => s.Key, StringComparer.OrdinalIgnoreCase);
        foreach (var section in values.GetChildren())
        {
            if (!known.TryGetValue(section.Key, out var setting))
                problems.Add($"unknown setting '{section.Key}' (known: {string.Join(", ", Names)})");
            else if (section.Value is null)
                problems.Add($"{setting.Key} must be a single value, not a list or an object");
            else
                setting.Apply(options, section.Value, problems);
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

    private static string DefaultDataDir() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify) is { Length: > 0 } home
            ? home : Path.GetTempPath(), ".slipway");
}

/// <summary>Settings that cannot be used, with every reason.</summary>
public sealed class OptionsException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
