using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Slipway.Client.Datasets;

/// <summary>
/// A dataset version string read the way PEP 440 defines versions (<c>1.0.2</c>, <c>2.0rc1</c>, <c>1.1.post3</c>,
/// <c>v3.dev2</c>): ordered by epoch, release numbers, pre-, post- and dev-release, so the "latest" version is
/// the same one the Python SDK picks, and the next version increments the last part that is present.
/// </summary>
internal sealed partial class DatasetVersionNumber : IComparable<DatasetVersionNumber>
{
    /// <summary>The version a dataset's first version gets.</summary>
    public const string First = "1.0.0";

    private readonly int _epoch;
    private readonly long[] _release;
    private readonly (int Rank, long Number)? _pre;
    private readonly long? _post;
    private readonly long? _dev;
    private readonly string? _local;

    private DatasetVersionNumber(int epoch, long[] release, (int, long)? pre, long? post, long? dev, string? local)
    {
        _epoch = epoch;
        _release = release;
        _pre = pre;
        _post = post;
        _dev = dev;
        _local = local;
    }

    // PEP 440's public grammar: [v][N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with its accepted spellings.
    [GeneratedRegex("""
        ^\s*v?
        (?:(?<epoch>[0-9]+)!)?
        (?<release>[0-9]+(?:\.[0-9]+)*)
        (?:[-_.]?(?<pre_l>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?<pre_n>[0-9]+)?)?
        (?:-(?<post_n1>[0-9]+)|[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?)?
        (?:[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?
        (?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$
        """, RegexOptions.IgnorePatternWhitespace | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();

    /// <summary>Parses a version string; null when it is not a PEP 440 version.</summary>
    public static DatasetVersionNumber? TryParse(string? text)
    {
        if (text is null)
            return null;
        var m = Grammar().Match(text);
        if (!m.Success)
            return null;
        static long Num(Group g) => g.Success && long.TryParse(g.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
        (int, long)? pre = null;
        if (m.Groups["pre_l"].Success)
        {
            var rank = m.Groups["pre_l"].Value.ToLowerInvariant() switch
            {
                "a" or "alpha" => 0,
                "b" or "beta" => 1,
                _ => 2, // c, rc, pre, preview
            };
            pre = (rank, Num(m.Groups["pre_n"]));
        }
        long? post = m.Groups["post_n1"].Success ? Num(m.Groups["post_n1"]) : m.Groups["post_l"].Success ? Num(m.Groups["post_n2"]) : null;
        long? dev = m.Groups["dev_l"].Success ? Num(m.Groups["dev_n"]) : null;
        try
        {
            var release = m.Groups["release"].Value.Split('.').Select(p => long.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
            return new DatasetVersionNumber((int)Num(m.Groups["epoch"]), release, pre, post, dev,
                m.Groups["local"].Success ? m.Groups["local"].Value.ToLowerInvariant() : null);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    /// <summary>The version after this one: the dev, post or pre-release number, else the last release number, plus one.</summary>
    public DatasetVersionNumber Next()
    {
        if (_dev is { } dev)
            return new(_epoch, _release, _pre, _post, dev + 1, _local);
        if (_post is { } post)
            return new(_epoch, _release, _pre, post + 1, null, _local);
        if (_pre is { } pre)
            return new(_epoch, _release, (pre.Rank, pre.Number + 1), null, null, _local);
        var release = (long[])_release.Clone();
        release[^1]++;
        return new(_epoch, release, null, null, null, _local);
    }

    /// <summary>The normalized form, e.g. <c>v1.0-RC.2</c> → <c>1.0rc2</c>.</summary>
    public override string ToString()
    {
        var s = new StringBuilder();
        if (_epoch != 0)
            s.Append(CultureInfo.InvariantCulture, $"{_epoch}!");
        s.AppendJoin('.', _release.Select(r => r.ToString(CultureInfo.InvariantCulture)));
        if (_pre is { } pre)
            s.Append(pre.Rank switch { 0 => "a", 1 => "b", _ => "rc" }).Append(pre.Number.ToString(CultureInfo.InvariantCulture));
        if (_post is { } post)
            s.Append(CultureInfo.InvariantCulture, $".post{post}");
        if (_dev is { } dev)
            s.Append(CultureInfo.InvariantCulture, $".dev{dev}");
        if (_local is not null)
            s.Append('+').Append(_local);
        return s.ToString();
    }

    public int CompareTo(DatasetVersionNumber? other)
    {
        if (other is null)
            return 1;
        var c = _epoch.CompareTo(other._epoch);
        if (c != 0)
            return c;
        c = CompareRelease(_release, other._release);
        if (c != 0)
            return c;
        c = PreKey().CompareTo(other.PreKey());
        if (c != 0)
            return c;
        c = (_post ?? -1).CompareTo(other._post ?? -1);
        if (c != 0)
            return c;
        c = (_dev ?? long.MaxValue).CompareTo(other._dev ?? long.MaxValue);
        if (c != 0)
            return c;
        return CompareLocal(_local, other._local);
    }

    // A dev release without pre or post sorts before every pre-release of the same release; a final release after them.
    private (int, long) PreKey() =>
        _pre ?? (_post is null && _dev is not null ? (-1, 0) : (int.MaxValue, 0));

    private static int CompareRelease(long[] a, long[] b)
    {
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var c = (i < a.Length ? a[i] : 0).CompareTo(i < b.Length ? b[i] : 0);
            if (c != 0)
                return c;
        }
        return 0;
    }

    private static int CompareLocal(string? a, string? b)
    {
        if (a is null || b is null)
            return a is null ? (b is null ? 0 : -1) : 1;
        var x = a.Split('.', '-', '_');
        var y = b.Split('.', '-', '_');
        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            var xn = long.TryParse(x[i], NumberStyles.None, CultureInfo.InvariantCulture, out var xv);
            var yn = long.TryParse(y[i], NumberStyles.None, CultureInfo.InvariantCulture, out var yv);
            var c = xn && yn ? xv.CompareTo(yv) : xn != yn ? (xn ? 1 : -1) : string.CompareOrdinal(x[i], y[i]);
            if (c != 0)
                return c;
        }
        return x.Length.CompareTo(y.Length);
    }

    /// <summary>
    /// The version to pick among candidates when none is asked for: the highest valid version; versions that do not
    /// parse lose to any that do, and ties keep the earlier candidate (the caller orders them newest first).
    /// </summary>
    public static int IndexOfLatest(IReadOnlyList<string?> versions)
    {
        var best = -1;
        DatasetVersionNumber? bestVersion = null;
        for (var i = 0; i < versions.Count; i++)
        {
            var v = TryParse(versions[i]);
            if (best < 0)
            {
                (best, bestVersion) = (i, v);
                continue;
            }
            if (v is not null && (bestVersion is null || bestVersion.CompareTo(v) < 0))
                (best, bestVersion) = (i, v);
        }
        return best;
    }
}
