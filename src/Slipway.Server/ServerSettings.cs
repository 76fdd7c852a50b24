using System.Globalization;
using System.Text;
using Slipway.Server.Blobs;

namespace Slipway.Server;

/// <summary>
/// The one list of the server's settings. Loading (<see cref="ServerOptions.Load"/>), the command line's switches and help,
/// and the README's table (checked by a test) all come from it, so a setting is added or changed here only.
/// </summary>
public static class ServerSettings
{
    public static IReadOnlyList<ServerSetting> All { get; } =
    [
        new("data", "Data directory: the SQLite database, files, clearml.conf", o => o.DataDir, (o, v, problems) =>
        {
            if (v.Length == 0)
                problems.Add("data must name a folder");
            else
                o.DataDir = Path.GetFullPath(v);
        }) { DefaultText = "~/.slipway" },
        new("host", "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)", o => o.Host, (o, v, _) => o.Host = v),
        new("api_port", "API port (0 picks a free one)", o => Text(o.ApiPort), (o, v, problems) => o.ApiPort = Port("api_port", v, problems)),
        new("web_port", "Web port (0 picks a free one)", o => Text(o.WebPort), (o, v, problems) => o.WebPort = Port("web_port", v, problems)),
        new("files_port", "File server port (0 picks a free one)", o => Text(o.FilesPort), (o, v, problems) => o.FilesPort = Port("files_port", v, problems)),
        new("db", "PostgreSQL connection string (\"Host=…;Database=…;Username=…\"); empty: SQLite in the data directory", o => o.Db,
            (o, v, _) => o.Db = v) { DefaultText = "SQLite in the data directory" },
        new("token_lifetime_sec", "How long a signed-in token lasts, in seconds (at least 300)", o => Text((long)o.TokenLifetime.TotalSeconds), (o, v, problems) =>
        {
            if (long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= 300)
                o.TokenLifetime = TimeSpan.FromSeconds(seconds);
            else
                problems.Add($"token_lifetime_sec must be a whole number of seconds, at least 300 (got '{v}')");
        }) { DefaultText = "2592000 (30 days)" },
        new("public_host", "Host name written into clearml.conf's URLs", o => o.PublicHost, (o, v, _) => o.PublicHost = v)
        {
            DefaultText = "host, or localhost when that is 0.0.0.0",
        },
        new("blobs", "Where files go: s3://bucket/prefix, or empty for DIR/files on the local disk", o => o.Blobs, (o, v, problems) =>
        {
            if (v.Length > 0 && (!v.StartsWith("s3://", StringComparison.Ordinal) || S3Location.ParseUri(v).Bucket.Length == 0))
                problems.Add($"blobs must be empty (local disk) or s3://bucket[/prefix] (got '{v}')");
            o.Blobs = v;
        }) { DefaultText = "DIR/files on the local disk" },
        new("s3_endpoint", "S3-compatible server URL", o => o.S3Endpoint, (o, v, problems) =>
        {
            if (!Uri.TryCreate(v, UriKind.Absolute, out _))
                problems.Add($"s3_endpoint must be a URL (got '{v}')");
            o.S3Endpoint = v;
        }) { DefaultText = "AWS" },
        new("s3_region", "S3 region", o => o.S3Region, (o, v, _) => o.S3Region = v) { DefaultText = "the AWS SDK's default" },
        new("s3_access_key", "S3 access key", o => o.S3AccessKey, (o, v, _) => o.S3AccessKey = v)
        {
            OnCommandLine = false, DefaultText = "the AWS SDK's default credentials",
        },
        new("s3_secret_key", "S3 secret key", o => o.S3SecretKey, (o, v, _) => o.S3SecretKey = v)
        {
            OnCommandLine = false, DefaultText = "the AWS SDK's default credentials",
        },
        new("s3_path_style", "true for path-style addressing (bucket in the path), which most S3-compatible servers need",
            o => o.S3PathStyle ? "true" : "false", (o, v, problems) =>
            {
                if (bool.TryParse(v, out var pathStyle))
                    o.S3PathStyle = pathStyle;
                else
                    problems.Add($"s3_path_style must be true or false (got '{v}')");
            }),
        new("cleanup_interval_sec", "How often deleted entities' files are cleaned up, in seconds (0: off)", o => Text((long)o.CleanupInterval.TotalSeconds),
            (o, v, problems) =>
            {
                if (int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var interval))
                    o.CleanupInterval = TimeSpan.FromSeconds(interval);
                else
                    problems.Add($"cleanup_interval_sec must be a whole number of seconds (got '{v}')");
            }),
        new("files_path", "Also serve the file server under this path of the API port, e.g. /files", o => o.FilesPath, (o, v, problems) =>
        {
            if (v.Length > 0 && (!v.StartsWith('/') || v.EndsWith('/') || v.Contains('.', StringComparison.Ordinal)))
                problems.Add($"files_path must look like /files (got '{v}')");
            o.FilesPath = v;
        }) { DefaultText = "off" },
        new("watchdog_timeout_sec", "A running task whose worker has not reported, nor the task pinged, for this many seconds is marked failed (0: off)",
            o => Text((long)o.WatchdogTimeout.TotalSeconds), (o, v, problems) =>
            {
                if (int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var watchdog) && watchdog >= 0)
                    o.WatchdogTimeout = TimeSpan.FromSeconds(watchdog);
                else
                    problems.Add($"watchdog_timeout_sec must be a whole number of seconds (got '{v}')");
            }),
        new("autoscaler", "An autoscaler configuration file that the server then runs in its own process", o => o.Autoscaler, (o, v, problems) =>
        {
            if (!File.Exists(v))
                problems.Add($"autoscaler: no such file '{v}'");
            o.Autoscaler = Path.GetFullPath(v);
        }),
    ];

    /// <summary>The README's table of settings, one row per setting, in the order of <see cref="All"/>.</summary>
    public static string MarkdownTable()
    {
        var table = new StringBuilder();
        table.Append("| setting file key | command line | environment | default | meaning |\n");
        table.Append("|---|---|---|---|---|\n");
        foreach (var s in All)
            table.Append(CultureInfo.InvariantCulture, $"| `{s.Key}` | {(s.OnCommandLine ? $"`{s.Switch}`" : "")} | `{s.EnvironmentVariable}` | {s.Default} | {s.Description.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
        return table.ToString();
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static int Port(string key, string value, List<string> problems)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535)
            return port;
        problems.Add($"{key} must be a port number from 0 to 65535 (got '{value}')");
        return 0;
    }
}
