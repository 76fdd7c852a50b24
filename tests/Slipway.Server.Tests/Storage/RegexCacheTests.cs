using Slipway.Server.Storage.Sqlite;

namespace Slipway.Server.Tests.Storage;

public sealed class RegexCacheTests
{
    [Fact]
    public void The_cache_never_holds_more_than_its_capacity()
    {
        var cache = new RegexCache(capacity: 8);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.Matches(cache.Get($"^p{i}$"), $"p{i}");
            Assert.InRange(cache.Count, 1, 8);
        }
    }

    [Fact]
    public void A_known_pattern_is_compiled_once()
    {
        var cache = new RegexCache();
        Assert.Same(cache.Get("^a+$"), cache.Get("^a+$"));
    }

    [Fact]
    public void Patterns_match_with_a_timeout()
    {
        var cache = new RegexCache();
        Assert.Equal(Slipway.Server.Storage.UserRegex.MatchTimeout, cache.Get("(?=(a+)+$)").MatchTimeout);
        Assert.Throws<System.Text.RegularExpressions.RegexMatchTimeoutException>(() => cache.Get("(?=(a+)+$)").IsMatch(new string('a', 40) + "!"));
    }
}
