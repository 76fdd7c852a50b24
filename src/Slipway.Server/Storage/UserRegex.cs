using System.Text.RegularExpressions;

namespace Slipway.Server.Storage;

/// <summary>
/// The regular expressions callers send (name, basename, worker_pattern filters): bounded in length and in the
/// time one match may take, wherever they run in this process (in memory or inside SQLite's regexp function).
/// </summary>
public static class UserRegex
{
    /// <summary>Longer than any name filter the SDK or the UI builds (they escape one name), short enough to compile cheaply.</summary>
    public const int MaxLength = 1000;

    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>The reason a timed-out match gives; the SQLite store recognizes it in the engine's error to answer 400.</summary>
    public const string TimeoutReason = "the regular expression took too long to match; simplify it";

    /// <summary>Compiles a pattern; throws <see cref="ArgumentException"/> for a malformed one.</summary>
    public static Regex Compile(string pattern)
    {
        if (pattern.Length > MaxLength)
            throw new ArgumentException($"it is longer than {MaxLength} characters");
        // The non-backtracking engine matches in time linear in the text, so a pattern such as "(a+)+$" cannot run away.
        // It lacks backreferences, lookarounds and atomic groups, and refuses patterns whose automaton would be huge;
        // those fall back to the backtracking engine, where the match timeout is what bounds the time.
        try
        {
            return new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (NotSupportedException)
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout);
        }
    }
}
