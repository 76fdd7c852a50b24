using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Slipway.Server;

/// <summary>
/// The server could not start, for a cause the user can fix: the message is one line that names the cause and
/// the setting to change. The original exception is the inner one.
/// </summary>
public sealed partial class ServerStartException(string message, Exception inner) : Exception(message, inner)
{
    /// <summary>A failure to open the store, in one line naming the database and how to choose another.</summary>
    internal static string DescribeStore(Exception e, ServerOptions options) => options.UsesPostgres
        ? $"cannot use the PostgreSQL database: {Reason(e)} (check the connection string in {HowToSet("db")})"
        : $"cannot open the SQLite database {DataFolder.DatabasePath(options)}: {Reason(e)} (choose another data directory with {HowToSet("data")})";

    /// <summary>A failure at any other step of starting, in one line; null for one that is not the user's to fix (a bug).</summary>
    internal static string? Describe(Exception e, ServerOptions options)
    {
        if (e is ServerStartException or OperationCanceledException)
            return null;
        // The store, the only other thing opened over the network at start, has failed or succeeded before Kestrel binds.
        if (Find<SocketException>(e) is { } socket)
        {
            var port = BoundPort().Match(e.Message) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null;
            var setting = port == options.ApiPort ? "api_port" : port == options.WebPort ? "web_port" : port == options.FilesPort ? "files_port" : null;
            var change = setting is null ? $"{HowToSet("api_port")}, --web-port or --files-port" : HowToSet(setting);
            return socket.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => port is null
                    ? $"a port is already in use (change it with {change})"
                    : $"port {port} is in use (change it with {change})",
                SocketError.AccessDenied => $"not allowed to listen on port {port} (ports below 1024 need privileges; change it with {change})",
                SocketError.AddressNotAvailable => $"cannot listen on {options.Host}: no such address on this machine (change it with {HowToSet("host")})",
                _ => $"cannot listen on {options.Host}: {Reason(e)} (change it with {HowToSet("host")} or {change})",
            };
        }
        if (e is DataFolderNotWritableException notWritable)
            return $"{notWritable.Message} (choose another with {HowToSet("data")})";
        if (e is UnauthorizedAccessException or IOException)
            return $"cannot use the data directory {options.DataDir}: {Reason(e)} (choose another with {HowToSet("data")})";
        return null;
    }

    /// <summary>"--api-port or SLIPWAY_API_PORT": the setting's command-line option and environment variable.</summary>
    public static string HowToSet(string setting) => $"--{setting.Replace('_', '-')} or SLIPWAY_{setting.ToUpperInvariant()}";

    /// <summary>The exception's message and, where it adds something, its innermost cause's, on one line.</summary>
    private static string Reason(Exception e)
    {
        var message = e.Message;
        var innermost = e;
        while (innermost.InnerException is { } inner)
            innermost = inner;
        if (!ReferenceEquals(innermost, e) && !message.Contains(innermost.Message, StringComparison.OrdinalIgnoreCase))
            message = $"{message.TrimEnd('.')}: {innermost.Message}";
        return string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');
    }

    private static T? Find<T>(Exception e) where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is T found)
                return found;
        }
        return null;
    }

    // Kestrel names the address it failed to bind: "Failed to bind to address http://127.0.0.1:8008: address already in use."
    [GeneratedRegex(@"https?://\S+:(\d+)")]
    private static partial Regex BoundPort();
}
