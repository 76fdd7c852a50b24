using Slipway.Client.Datasets;

namespace Slipway.Client.Tests.Datasets;

public sealed class PathPatternTests
{
    [Theory]
    [InlineData("a/b/c.txt", "*.txt", true, true)]
    [InlineData("c.txt", "*.txt", true, true)]
    [InlineData("a/b/c.txt", "b/*.txt", true, false)]
    [InlineData("a/b/c.txt", "a/*", true, true)]
    [InlineData("a/b/c.txt", "a/b/c.txt", true, true)]
    [InlineData("x/a/b/c.txt", "a/b/c.txt", true, false)]
    [InlineData("a/b/c.txt", "c.txt", true, true)]
    [InlineData("a/b/c.txt", "*.txt", false, false)]
    [InlineData("c.txt", "*.txt", false, true)]
    [InlineData("a/c.txt", "?/[bc].txt", false, true)]
    [InlineData("a/d.txt", "?/[!bc].txt", false, true)]
    [InlineData("a/c.txt", "?/[!bc].txt", false, false)]
    public void Removal_patterns_match_like_the_sdk(string path, string pattern, bool recursive, bool matches) =>
        Assert.Equal(matches, PathPattern.MatchesDatasetPath(path, pattern, recursive));

    [Theory]
    [InlineData("a+b(1).txt", "a+b(1).*", true)]
    [InlineData("x^y", "[^]y", false)]
    [InlineData("^y", "[^]y", true)]
    [InlineData("file.PNG", "*.png", false)]
    public void Wildcards_treat_regex_characters_literally(string name, string wildcard, bool matches) =>
        Assert.Equal(matches, PathPattern.Matches(name, wildcard));
}
