using System.Text;
using System.Text.RegularExpressions;

namespace Slipway.Client.Datasets;

/// <summary>
/// Shell-style wildcards over dataset paths, with the meaning the Python SDK gives them: <c>*</c> matches any run
/// of characters (a <c>/</c> included), <c>?</c> one character, <c>[abc]</c> / <c>[!abc]</c> a set; case-sensitive.
/// </summary>
internal static class PathPattern
{
    /// <summary>Whether the whole <paramref name="text"/> matches the wildcard.</summary>
    public static bool Matches(string text, string wildcard) => ToRegex(wildcard).IsMatch(text);

    /// <summary>
    /// Whether a dataset path matches a removal pattern. Recursive: the pattern's folder part (plus anything below
    /// it) must match the path, and its file part must match the path's tail after some <c>/</c>, so <c>*.txt</c>
    /// matches <c>a/b/c.txt</c>. Not recursive: segment by segment, with as many segments as the pattern has.
    /// </summary>
    public static bool MatchesDatasetPath(string path, string pattern, bool recursive)
    {
        if (!recursive)
        {
            var segments = path.Split('/');
            var wild = pattern.Split('/');
            return segments.Length == wild.Length && segments.Zip(wild).All(p => Matches(p.First, p.Second));
        }
        var slash = pattern.LastIndexOf('/');
        var filePart = pattern[(slash + 1)..];
        var folderPart = pattern[..(slash + 1)] + "*";
        return Matches(path, folderPart) && Matches("/" + path, "*/" + filePart);
    }

    private static Regex ToRegex(string wildcard)
    {
        var re = new StringBuilder("^");
        for (var i = 0; i < wildcard.Length; i++)
        {
            var c = wildcard[i];
            switch (c)
            {
                case '*':
                    re.Append(".*");
                    break;
                case '?':
                    re.Append('.');
                    break;
                case '[':
                    var end = wildcard.IndexOf(']', i + 2 <= wildcard.Length ? i + 2 : i + 1);
                    if (end < 0)
                    {
                        re.Append(@"\[");
                        break;
                    }
                    var set = wildcard[(i + 1)..end];
                    var negate = set.StartsWith('!');
                    if (negate)
                        set = set[1..];
                    set = set.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("[", @"\[", StringComparison.Ordinal);
                    if (set.StartsWith('^'))
                        set = @"\" + set;
                    re.Append('[').Append(negate ? "^" : "").Append(set).Append(']');
                    i = end;
                    break;
                default:
                    re.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        return new Regex(re.Append('$').ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
    }
}
