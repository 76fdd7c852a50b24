using System.Text.RegularExpressions;

namespace Slipway.Server.Storage.Sqlite;

/// <summary>
/// The compiled patterns behind SQLite's regexp function. A query calls it once per row, so patterns are kept
/// between calls; callers choose the patterns, so at most <see cref="Capacity"/> are kept (each can cost hundreds
/// of kilobytes) and the whole set is dropped when a new one does not fit: a dashboard's few patterns are back
/// after one compile each, and a flood of distinct ones costs time, not memory.
/// </summary>
public sealed class RegexCache(int capacity = RegexCache.DefaultCapacity)
{
    public const int DefaultCapacity = 64;
    private readonly Dictionary<string, Regex> _patterns = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public int Capacity => capacity;

    public int Count
    {
        get
        {
            lock (_lock)
                return _patterns.Count;
        }
    }

    public Regex Get(string pattern)
    {
        lock (_lock)
        {
            if (_patterns.TryGetValue(pattern, out var known))
                return known;
        }
        // Compiled outside the lock: a slow compile holds up no other query.
        var compiled = UserRegex.Compile(pattern);
        lock (_lock)
        {
            if (_patterns.Count >= capacity)
                _patterns.Clear();
            _patterns[pattern] = compiled;
        }
        return compiled;
    }
}
