namespace Slipway.Server.Storage;

/// <summary>
/// A tag filter as ClearML clients send it: plain values mean "any of"; "-x" or "__$not", "x" exclude;
/// "__$all" switches to AND and "__$any" back to OR; null means "empty or missing".
/// Terms are gathered into groups by the mode in force when they appear; the groups are ANDed.
/// </summary>
public sealed record TagQuery(IReadOnlyList<TagGroup> Groups)
{
    public static TagQuery Parse(IEnumerable<string?> values)
    {
        var groups = new List<TagGroup>();
        var all = false;
        var negateNext = false;
        List<TagTerm> current = [];
        void Close()
        {
            if (current.Count > 0)
                groups.Add(new TagGroup(all, current));
            current = [];
        }
        foreach (var value in values)
        {
            switch (value)
            {
                case "__$all" or "__$and":
                    Close();
                    all = true;
                    continue;
                case "__$any" or "__$or":
                    Close();
                    all = false;
                    continue;
                case "__$not":
                    negateNext = true;
                    continue;
                case null:
                    current.Add(new TagTerm(null, negateNext));
                    break;
                case ['-', .. var rest] when rest.Length > 0:
                    current.Add(new TagTerm(rest, !negateNext));
                    break;
                default:
                    current.Add(new TagTerm(value, negateNext));
                    break;
            }
            negateNext = false;
        }
        Close();
        return new TagQuery(groups);
    }

    /// <summary>Evaluates the query against one document's tags (used where filtering happens in memory).</summary>
    public bool Matches(IReadOnlyCollection<string> tags) =>
        Groups.All(g => g.All ? g.Terms.All(t => t.Matches(tags)) : g.Terms.Any(t => t.Matches(tags)));
}

public sealed record TagGroup(bool All, IReadOnlyList<TagTerm> Terms);

/// <summary>One term: the list contains <see cref="Tag"/> (or, for a null tag, is empty), possibly negated.</summary>
public sealed record TagTerm(string? Tag, bool Negated)
{
    public bool Matches(IReadOnlyCollection<string> tags) =>
        Negated ^ (Tag is null ? tags.Count == 0 : tags.Contains(Tag));
}
