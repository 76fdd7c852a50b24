using Slipway.Client.Configuration;

namespace Slipway.Client;

/// <summary>
/// Where the server is and how to sign in. Build one in code, or let <see cref="FromEnvironment"/> find the
/// settings the way the ClearML Python SDK does: <c>CLEARML_*</c> variables first, then the configuration
/// file (<c>CLEARML_CONFIG_FILE</c>, else <c>~/clearml.conf</c>).
/// </summary>
public sealed class ClientOptions
{
    /// <summary>The API server, e.g. <c>http://localhost:8008</c>.</summary>
    public required Uri ApiServer { get; set; }

    /// <summary>The web UI, used only for links. Derived from <see cref="ApiServer"/> when not set.</summary>
    public Uri? WebServer { get; set; }

    /// <summary>The file server that receives uploads (artifacts, models, datasets). Derived from the web server when not set.</summary>
    public Uri? FilesServer { get; set; }

    /// <summary>API access key.</summary>
    public string? AccessKey { get; set; }

    /// <summary>API secret key.</summary>
    public string? SecretKey { get; set; }

    /// <summary>A ready token used instead of the key pair (what an agent hands to the task it runs).</summary>
    public string? AuthToken { get; set; }

    /// <summary>How many times a call is retried after a transient failure (connection refused, timeout, 502/503/504). Default 5.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>The first retry's delay; each later one doubles, with jitter, up to <see cref="RetryMaxDelay"/>. Default 0.5 s.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest delay between retries. Default 30 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Per-request timeout for API calls (file transfers have none). Default 5 minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The worker name sent in the <c>X-ClearML-Worker</c> header. Default: <c>CLEARML_WORKER_NAME</c>, else the host name.</summary>
    public string WorkerName { get; set; } = Environment.GetEnvironmentVariable("CLEARML_WORKER_NAME") ?? Environment.MachineName;

    /// <summary>An <see cref="HttpClient"/> to use instead of the client's own (its base address and headers are left alone).</summary>
    public HttpClient? HttpClient { get; set; }

    /// <summary>Where local copies of dataset versions are kept. Default <c>SLIPWAY_CACHE_DIR/datasets</c>, else <c>~/.slipway/cache/datasets</c>.</summary>
    public string? DatasetCacheDirectory { get; set; }

    /// <summary>The web server actually used: <see cref="WebServer"/>, or derived from the API server (<c>:8008</c>→<c>:8080</c>, <c>api.</c>→<c>app.</c>).</summary>
    public Uri EffectiveWebServer => WebServer ?? DeriveHost(ApiServer, 8008, 8080, "api.", "app.");

    /// <summary>The file server actually used: <see cref="FilesServer"/>, or derived from the web server (port <c>8081</c>, <c>app.</c>→<c>files.</c>).</summary>
    public Uri EffectiveFilesServer => FilesServer ?? DeriveHost(EffectiveWebServer, 8080, 8081, "app.", "files.");

    /// <summary>
    /// Reads the settings from <c>CLEARML_*</c> (or <c>TRAINS_*</c>) variables, falling back to the configuration file.
    /// </summary>
    /// <param name="configFile">The configuration file; default <c>CLEARML_CONFIG_FILE</c>, else <c>~/clearml.conf</c>.</param>
    /// <exception cref="SlipwayException">No API server is configured, or the configuration file is malformed.</exception>
    public static ClientOptions FromEnvironment(string? configFile = null)
    {
        configFile ??= Env("CONFIG_FILE") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "clearml.conf");
        return Load(configFile, useEnvironment: true);
    }

    /// <summary>
    /// Reads the settings from a configuration file only; <c>CLEARML_*</c> variables are ignored (for a file the
    /// user named explicitly, e.g. a command line's <c>--conf</c>).
    /// </summary>
    /// <param name="configFile">The configuration file.</param>
    /// <exception cref="SlipwayException">The file does not exist, is malformed, or configures no API server.</exception>
    public static ClientOptions FromFile(string configFile)
    {
        ArgumentNullException.ThrowIfNull(configFile);
        if (!File.Exists(configFile))
            throw new SlipwayException($"{configFile} does not exist");
        return Load(configFile, useEnvironment: false);
    }

    private static ClientOptions Load(string configFile, bool useEnvironment)
    {
        var conf = new System.Text.Json.Nodes.JsonObject();
        if (File.Exists(configFile))
        {
            try
            {
                conf = Hocon.Parse(File.ReadAllText(configFile));
            }
            catch (FormatException e)
            {
                throw new SlipwayException($"{configFile}: {e.Message}", e);
            }
        }
        string? Conf(string path) => Hocon.GetString(conf, path) is { Length: > 0 } s ? s : null;
        string? Var(string name) => useEnvironment ? Env(name) : null;

        var api = Var("API_HOST") ?? Conf("api.api_server") ?? Conf("api.host")
                  ?? throw new SlipwayException(useEnvironment
                      ? $"no server configured: set CLEARML_API_HOST (and CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY), or write {configFile} (slipway login does)"
                      : $"{configFile} configures no server (api.api_server)");
        var web = Var("WEB_HOST") ?? Conf("api.web_server");
        var files = Var("FILES_HOST") ?? Conf("api.files_server");
        return new ClientOptions
        {
            ApiServer = ParseUrl(api, "API server"),
            WebServer = web is null ? null : ParseUrl(web, "web server"),
            FilesServer = files is null ? null : ParseUrl(files, "files server"),
            AccessKey = Var("API_ACCESS_KEY") ?? Conf("api.credentials.access_key"),
            SecretKey = Var("API_SECRET_KEY") ?? Conf("api.credentials.secret_key"),
            AuthToken = Var("AUTH_TOKEN"),
        };
    }

    /// <summary>Where downloads of a kind (models, datasets) are cached: under <c>SLIPWAY_CACHE_DIR</c>, else <c>~/.slipway/cache</c>.</summary>
    internal static string DefaultCacheFolder(string kind) =>
        Path.Combine(Environment.GetEnvironmentVariable("SLIPWAY_CACHE_DIR")
                     ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".slipway", "cache"), kind);

    internal static string? Env(string name) =>
        Environment.GetEnvironmentVariable("CLEARML_" + name) is { Length: > 0 } v ? v
        : Environment.GetEnvironmentVariable("TRAINS_" + name) is { Length: > 0 } t ? t : null;

    private static Uri ParseUrl(string value, string what) =>
        Uri.TryCreate(value.TrimEnd('/'), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new SlipwayException($"the {what} '{value}' is not an http(s) URL");

    private static Uri DeriveHost(Uri from, int fromPort, int toPort, string fromPrefix, string toPrefix)
    {
        var builder = new UriBuilder(from);
        if (from.Port == fromPort)
            builder.Port = toPort;
        else if (from.Host.StartsWith(fromPrefix, StringComparison.OrdinalIgnoreCase))
            builder.Host = toPrefix + from.Host[fromPrefix.Length..];
        else
            builder.Port = toPort;
        return builder.Uri;
    }
}
