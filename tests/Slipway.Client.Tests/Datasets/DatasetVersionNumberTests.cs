using Slipway.Client.Datasets;

namespace Slipway.Client.Tests.Datasets;

public sealed class DatasetVersionNumberTests
{
    [Theory]
    [InlineData("1.0.0", "1.0.1")]
    [InlineData("v2", "3")]
    [InlineData("1.2.9", "1.2.10")]
    [InlineData("1.4rc1", "1.4rc2")]
    [InlineData("1.0-ALPHA", "1.0a1")]
    [InlineData("1.0.post2", "1.0.post3")]
    [InlineData("1.0.dev0", "1.0.dev1")]
    [InlineData("2!1.0", "2!1.1")]
    public void The_next_version_increments_the_last_part_present(string version, string next) =>
        Assert.Equal(next, DatasetVersionNumber.TryParse(version)!.Next().ToString());

    [Theory]
    [InlineData("1.0.dev1", "1.0a1")]
    [InlineData("1.0a1", "1.0b1")]
    [InlineData("1.0b1", "1.0rc1")]
    [InlineData("1.0rc1", "1.0")]
    [InlineData("1.0", "1.0.post1")]
    [InlineData("1.0.9", "1.0.10")]
    [InlineData("1.0", "1.0.0.1")]
    [InlineData("9.9", "1!0.1")]
    public void Versions_order_as_pep_440_says(string lower, string higher) =>
        Assert.True(DatasetVersionNumber.TryParse(lower)!.CompareTo(DatasetVersionNumber.TryParse(higher)) < 0);

    [Fact]
    public void Equal_releases_with_trailing_zeros_compare_equal() =>
        Assert.Equal(0, DatasetVersionNumber.TryParse("1.0")!.CompareTo(DatasetVersionNumber.TryParse("1.0.0")));

    [Theory]
    [InlineData("latest")]
    [InlineData("")]
    [InlineData("1..0")]
    public void Other_strings_are_not_versions(string text) => Assert.Null(DatasetVersionNumber.TryParse(text));

    [Fact]
    public void The_latest_is_the_highest_valid_version_and_ties_keep_the_first()
    {
        Assert.Equal(1, DatasetVersionNumber.IndexOfLatest(["1.0.0", "1.2.0", "1.1.0"]));
        Assert.Equal(2, DatasetVersionNumber.IndexOfLatest([null, "not a version", "0.1"]));
        Assert.Equal(0, DatasetVersionNumber.IndexOfLatest(["1.0", "1.0.0"]));
        Assert.Equal(0, DatasetVersionNumber.IndexOfLatest([null, "x"]));
        Assert.Equal(-1, DatasetVersionNumber.IndexOfLatest([]));
    }
}
