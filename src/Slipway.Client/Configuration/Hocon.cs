using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Slipway.Client.Configuration;

/// <summary>
/// Reads the subset of HOCON that clearml.conf files use: nested objects with <c>{ }</c>, dotted keys,
/// <c>:</c> or <c>=</c> (or nothing before <c>{</c>), quoted and unquoted strings, numbers, booleans, null,
/// arrays, <c>#</c> and <c>//</c> comments, and later keys merging into earlier objects.
/// Substitutions and includes are not supported and are reported as errors. The server compiles this file too, to read the
/// configuration objects the SDK stores as HOCON (clearml-serving's control plane).
/// </summary>
internal static class Hocon
{
    /// <summary>Parses HOCON text into a JSON object; <paramref name="source"/> names the text in error messages.</summary>
    /// <exception cref="FormatException">The text is not valid in the supported subset; the message names the line.</exception>
    public static JsonObject Parse(string text, string source = "clearml.conf")
    {
        var reader = new Reader(text, source);
        var root = new JsonObject();
        reader.SkipBlank();
        if (reader.Peek() == '{')
        {
            reader.Next();
            reader.ReadMembers(root, '}');
        }
        else
        {
            reader.ReadMembers(root, '\0');
        }
        return root;
    }

    /// <summary>Reads a value at a dotted path (e.g. <c>api.credentials.access_key</c>) as a string, or null.</summary>
    public static string? GetString(JsonObject root, string path)
    {
        JsonNode? node = root;
        foreach (var part in path.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(part, out var child) ? child : null;
        return node is JsonValue v ? v.ToString() : null;
    }

    private sealed class Reader(string text, string source)
    {
        private int _pos;

        public char Peek() => _pos < text.Length ? text[_pos] : '\0';

        public char Next() => _pos < text.Length ? text[_pos++] : '\0';

        private int Line => text.AsSpan(0, Math.Min(_pos, text.Length)).Count('\n') + 1;

        private FormatException Error(string what) => new($"{source} line {Line}: {what}");

        /// <summary>Skips whitespace, newlines, commas and comments.</summary>
        public void SkipBlank()
        {
            while (_pos < text.Length)
            {
                var c = text[_pos];
                if (char.IsWhiteSpace(c) || c == ',')
                    _pos++;
                else if (c == '#' || (c == '/' && _pos + 1 < text.Length && text[_pos + 1] == '/'))
                    while (_pos < text.Length && text[_pos] != '\n') _pos++;
                else
                    break;
            }
        }

        private void SkipSpaces()
        {
            while (_pos < text.Length && text[_pos] is ' ' or '\t') _pos++;
        }

        public void ReadMembers(JsonObject target, char close)
        {
            while (true)
            {
                SkipBlank();
                var c = Peek();
                if (c == close)
                {
                    Next();
                    return;
                }
                if (c == '\0')
                    throw Error("unexpected end of file (missing '}')");
                if (c == '}')
                    throw Error("unexpected '}'");
                var path = ReadKey();
                SkipSpaces();
                c = Peek();
                if (c is ':' or '=')
                {
                    Next();
                    SkipSpaces();
                }
                else if (c != '{')
                {
                    throw Error($"expected ':' or '=' after '{string.Join('.', path)}'");
                }
                var value = ReadValue();
                Assign(target, path, value);
            }
        }

        private static void Assign(JsonObject target, List<string> path, JsonNode? value)
        {
            for (var i = 0; i < path.Count - 1; i++)
            {
                if (target[path[i]] is not JsonObject child)
                {
                    child = [];
                    target[path[i]] = child;
                }
                target = child;
            }
            var key = path[^1];
            if (value is JsonObject incoming && target[key] is JsonObject existing)
            {
                foreach (var (k, v) in incoming.ToList())
                {
                    incoming.Remove(k);
                    Assign(existing, [k], v);
                }
            }
            else
            {
                target[key] = value;
            }
        }

        private List<string> ReadKey()
        {
            var parts = new List<string>();
            while (true)
            {
                if (Peek() == '"')
                {
                    parts.Add(ReadQuoted());
                }
                else
                {
                    var start = _pos;
                    while (_pos < text.Length && text[_pos] is not ('.' or ':' or '=' or '{' or '"') && !char.IsWhiteSpace(text[_pos]))
                        _pos++;
                    if (_pos == start)
                        throw Error("expected a key");
                    parts.Add(text[start.._pos]);
                }
                if (Peek() != '.')
                    return parts;
                Next();
            }
        }

        private JsonNode? ReadValue()
        {
            var c = Peek();
            switch (c)
            {
                case '{':
                {
                    Next();
                    var obj = new JsonObject();
                    ReadMembers(obj, '}');
                    return obj;
                }
                case '[':
                {
                    Next();
                    var array = new JsonArray();
                    while (true)
                    {
                        SkipBlank();
                        if (Peek() == ']')
                        {
                            Next();
                            return array;
                        }
                        if (Peek() == '\0')
                            throw Error("unexpected end of file (missing ']')");
                        array.Add(ReadValue());
                    }
                }
                case '"':
                    return JsonValue.Create(ReadQuoted());
                case '$':
                    throw Error("substitutions (${...}) are not supported");
                default:
                    return ReadUnquoted();
            }
        }

        private string ReadQuoted()
        {
            if (text.AsSpan(_pos).StartsWith("\"\"\""))
            {
                var end = text.IndexOf("\"\"\"", _pos + 3, StringComparison.Ordinal);
                if (end < 0)
                    throw Error("unterminated \"\"\" string");
                var raw = text[(_pos + 3)..end];
                _pos = end + 3;
                return raw;
            }
            Next();
            var sb = new StringBuilder();
            while (true)
            {
                var c = Next();
                switch (c)
                {
                    case '\0' or '\n':
                        throw Error("unterminated string");
                    case '"':
                        return sb.ToString();
                    case '\\':
                        var e = Next();
                        sb.Append(e switch
                        {
                            'n' => "\n",
                            't' => "\t",
                            'r' => "\r",
                            'b' => "\b",
                            'f' => "\f",
                            'u' when _pos + 4 <= text.Length => ((char)int.Parse(text.AsSpan(_pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToString(),
                            _ => e.ToString(),
                        });
                        if (e == 'u')
                            _pos += 4;
                        break;
                    default:
                        sb.Append(c);
                        break;
                }
            }
        }

        private JsonNode? ReadUnquoted()
        {
            var start = _pos;
            while (_pos < text.Length && text[_pos] is not ('\n' or ',' or '}' or ']' or '#'))
            {
                if (text[_pos] == '/' && _pos + 1 < text.Length && text[_pos + 1] == '/' && (_pos == start || text[_pos - 1] != ':'))
                    break;
                _pos++;
            }
            var raw = text[start.._pos].Trim();
            if (raw.Length == 0)
                throw Error("expected a value");
            return raw switch
            {
                "true" or "yes" or "on" => JsonValue.Create(true),
                "false" or "no" or "off" => JsonValue.Create(false),
                "null" => null,
                _ when long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => JsonValue.Create(l),
                _ when double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => JsonValue.Create(d),
                _ => JsonValue.Create(raw),
            };
        }
    }
}
