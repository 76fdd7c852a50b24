using System.Globalization;

namespace Slipway.Serving.Tests.Infrastructure;

/// <summary>Reads samples out of a /metrics answer in the Prometheus text format.</summary>
public static class Prometheus
{
    /// <summary>The values of <paramref name="metric"/>'s samples whose labels include each of <paramref name="labels"/> (e.g. <c>endpoint="a"</c>).</summary>
    public static List<double> Samples(string text, string metric, params string[] labels) =>
        [.. text.Split('\n')
            .Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && labels.All(x => l.Contains(x, StringComparison.Ordinal)))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture))];

    /// <summary>The value of the one sample that matches; fails when none or several do.</summary>
    public static double Sample(string text, string metric, params string[] labels) => Assert.Single(Samples(text, metric, labels));
}
