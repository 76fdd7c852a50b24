using System.Globalization;
using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Domain.Tasks;

namespace Slipway.Server.Web;

/// <summary>How the pages write times, durations, sizes and numbers.</summary>
public static class Format
{
    public static DateTimeOffset? Time(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? Time(s) : null;

    /// <summary>A stored timestamp (a typed document's <c>created</c>, <c>last_update</c>), or null.</summary>
    public static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    public static string When(JsonNode? node) => When(Time(node));

    public static string When(string? text) => When(Time(text));

    private static string When(DateTimeOffset? time) => time is { } t ? t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "";

    public static string Ago(JsonNode? node, DateTimeOffset now) => Ago(Time(node), now);

    public static string Ago(string? text, DateTimeOffset now) => Ago(Time(text), now);

    private static string Ago(DateTimeOffset? time, DateTimeOffset now)
    {
        if (time is not { } t)
            return "";
        var d = now - t;
        return d.TotalSeconds < 60 ? "just now"
            : d.TotalMinutes < 60 ? $"{(int)d.TotalMinutes} min ago"
            : d.TotalHours < 24 ? $"{(int)d.TotalHours} h ago"
            : d.TotalDays < 30 ? $"{(int)d.TotalDays} d ago"
            : t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    }

    public static string Duration(TimeSpan d) =>
        d.TotalSeconds < 1 ? "0s"
        : d.TotalMinutes < 1 ? $"{d.Seconds}s"
        : d.TotalHours < 1 ? $"{d.Minutes}m {d.Seconds}s"
        : d.TotalDays < 1 ? $"{(int)d.TotalHours}h {d.Minutes}m"
        : $"{(int)d.TotalDays}d {d.Hours}h";

    /// <summary>A task's run time: started to completed, or to now while it runs.</summary>
    public static string RunTime(JsonObject task, DateTimeOffset now)
    {
        if (Time(task["started"]) is not { } started)
            return "";
        var end = Time(task["completed"]) ?? (Json.GetString(task, "status") == TaskStatuses.InProgress ? now : Time(task["last_update"]) ?? now);
        return end < started ? "" : Duration(end - started);
    }

    public static string Number(double? value) =>
        value is not { } v ? "" : Math.Abs(v) is >= 1e-4 and < 1e7 or 0 ? v.ToString("0.#####", CultureInfo.InvariantCulture) : v.ToString("0.###e0", CultureInfo.InvariantCulture);

    public static string Size(long? bytes) => bytes switch
    {
        null => "",
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / 1048576.0:0.#} MiB",
        _ => $"{bytes / 1073741824.0:0.##} GiB",
    };

    public static string Str(JsonNode? node, string path) => node is JsonObject o ? Json.GetString(o, path) ?? "" : "";

    /// <summary>Links and media sources the UI renders from reported data: only http(s), never javascript: or data:.</summary>
    public static bool IsHttp(string uri) =>
        uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    public static string Short(string id) => id.Length > 8 ? id[..8] : id;
}
