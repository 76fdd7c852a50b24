using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>How commands print: JSON for scripts, aligned tables and short human forms of times and sizes.</summary>
public static class Output
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes one JSON document (indented) and a newline.</summary>
    public static void WriteJson(TextWriter writer, JsonNode? node) => writer.WriteLine(node?.ToJsonString(JsonOptions) ?? "null");

    /// <summary>Writes one JSON document on one line (JSON Lines, for streams such as a followed log).</summary>
    public static void WriteJsonLine(TextWriter writer, JsonNode node) => writer.WriteLine(node.ToJsonString(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));

    /// <summary>A time for JSON: ISO 8601 in UTC, or null.</summary>
    public static JsonNode? Time(DateTimeOffset? time) => time is { } t ? JsonValue.Create(t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)) : null;

    /// <summary>A JSON string's value; null for anything else.</summary>
    public static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>Strings as a JSON array.</summary>
    public static JsonArray Array(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    /// <summary>"12s ago", "5m ago", "3h ago", "4d ago", or the date for anything older than 30 days; "-" for none.</summary>
    public static string Ago(DateTimeOffset? time, DateTimeOffset now)
    {
        if (time is not { } t)
            return "-";
        var age = now - t;
        return age.TotalSeconds switch
        {
            < 5 => "just now",
            < 60 => $"{(int)age.TotalSeconds}s ago",
            < 3600 => $"{(int)age.TotalMinutes}m ago",
            < 86400 => $"{(int)age.TotalHours}h ago",
            < 30 * 86400 => $"{(int)age.TotalDays}d ago",
            _ => t.ToUniversalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>A full time with its age, for detail views: "2025-03-01 14:02:11Z (3h ago)".</summary>
    public static string When(DateTimeOffset? time, DateTimeOffset now) =>
        time is { } t ? $"{t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)} ({Ago(t, now)})" : "-";

    /// <summary>"45s", "12m 05s", "3h 04m", "2d 03h"; "-" for none.</summary>
    public static string Duration(TimeSpan? duration)
    {
        if (duration is not { } d || d < TimeSpan.Zero)
            return "-";
        return d.TotalSeconds switch
        {
            < 60 => $"{(int)d.TotalSeconds}s",
            < 3600 => $"{d.Minutes}m {d.Seconds:00}s",
            < 86400 => $"{(int)d.TotalHours}h {d.Minutes:00}m",
            _ => $"{(int)d.TotalDays}d {d.Hours:00}h",
        };
    }

    /// <summary>"812 B", "1.4 KiB", "23.0 MiB", "1.21 GiB".</summary>
    public static string Bytes(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes:0} B" : string.Create(CultureInfo.InvariantCulture, $"{bytes:0.0} {units[unit]}");
    }

    /// <summary>One line of at most <paramref name="max"/> characters: control characters become spaces, the rest is cut with "…".</summary>
    public static string Clip(string? text, int max)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var flat = new StringBuilder(text.Length);
        foreach (var c in text)
            flat.Append(char.IsControl(c) ? ' ' : c);
        var line = flat.ToString().Trim();
        return line.Length <= max ? line : line[..(max - 1)] + "…";
    }
}

/// <summary>
/// A table with a header row and columns padded to their widest cell (two spaces apart), numbers aligned right.
/// Cells are flattened to one line; the last column is not padded.
/// </summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];
    private readonly HashSet<int> _right = [];

    public int Count => _rows.Count;

    /// <summary>Aligns these columns (by header) to the right.</summary>
    public Table AlignRight(params string[] columns)
    {
        foreach (var column in columns)
            _right.Add(System.Array.IndexOf(headers, column));
        return this;
    }

    public void Add(params string?[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"{cells.Length} cells for {headers.Length} columns", nameof(cells));
        _rows.Add(cells.Select(c => Output.Clip(c, 200)).ToArray());
    }

    public void Write(TextWriter writer, string indent = "")
    {
        var widths = headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        WriteRow(writer, indent, headers, widths);
        foreach (var row in _rows)
            WriteRow(writer, indent, row, widths);
    }

    private void WriteRow(TextWriter writer, string indent, string[] cells, int[] widths)
    {
        var line = new StringBuilder(indent);
        for (var i = 0; i < cells.Length; i++)
        {
            if (i > 0)
                line.Append("  ");
            var last = i == cells.Length - 1;
            line.Append(_right.Contains(i) ? cells[i].PadLeft(widths[i]) : last ? cells[i] : cells[i].PadRight(widths[i]));
        }
        writer.WriteLine(line.ToString().TrimEnd());
    }
}

/// <summary>Label/value lines for a detail view, labels padded to the widest; empty values are skipped.</summary>
public sealed class Fields
{
    private readonly List<(string Label, string Value)> _lines = [];

    public bool IsEmpty => _lines.Count == 0;

    public Fields Add(string label, string? value)
    {
        if (!string.IsNullOrEmpty(value))
            _lines.Add((label, value));
        return this;
    }

    public void Write(TextWriter writer, string indent = "")
    {
        var width = _lines.Count == 0 ? 0 : _lines.Max(l => l.Label.Length);
        foreach (var (label, value) in _lines)
            writer.WriteLine($"{indent}{label.PadRight(width)}  {value}");
    }
}
