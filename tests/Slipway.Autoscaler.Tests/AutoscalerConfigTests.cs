namespace Slipway.Autoscaler.Tests;

public sealed class AutoscalerConfigTests
{
    [Fact]
    public void Every_problem_of_a_bad_file_is_named()
    {
        var config = AutoscalerConfig.Parse("""
            {
              "name": "as1",
              "queues": { "gpu": ["small", "huge"], "nowhere": ["small"] },
              "resources": {
                "small": { "provider": "local", "min_instances": 3, "max_instances": 2, "markets": [ { "market": "spot" } ] },
                "big": { "provider": "gce", "slots": 0 }
              },
              "budget": { "max_usd_per_hour": 5 }
            }
            """);
        var problems = config.Problems(["local"], ["gpu"]);
        Assert.Contains("queues.gpu: unknown resource 'huge'", problems);
        Assert.Contains("queues.nowhere: the server has no such queue", problems);
        Assert.Contains("resources.small: min_instances (3) is greater than max_instances (2)", problems);
        Assert.Contains("resources.small.markets.spot: price_usd_per_hour is needed because a budget is set", problems);
        Assert.Contains("resources.big.provider: unknown provider 'gce' (known: local)", problems);
        Assert.Contains("resources.big.slots: must be between 1 and 256", problems);
        Assert.Contains("resources.big: serves no queue", problems);
        var thrown = Assert.Throws<AutoscalerConfigException>(() => config.Validate(["local"], ["gpu"]));
        Assert.Contains("unknown resource 'huge'", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_or_bad_json_is_refused_with_the_place()
    {
        var e = Assert.Throws<AutoscalerConfigException>(() => AutoscalerConfig.Parse("""{ "name": "a", "idle_timout_seconds": 5 }"""));
        Assert.Contains("idle_timout_seconds", e.Message, StringComparison.Ordinal);
        Assert.Throws<AutoscalerConfigException>(() => AutoscalerConfig.Parse("{ nope"));
    }

    [Theory]
    [InlineData("\"3\"", "resources.r.max_disruptions: \"3\" is a number in quotes; write 3 for a count, or \"3%\" for a percentage")]
    [InlineData("-1", "resources.r.max_disruptions: -1 is negative; use a count of 0 or more, or a percentage such as \"20%\"")]
    [InlineData("\"-5%\"", "resources.r.max_disruptions: \"-5%\" is negative; use 0% to 100%")]
    [InlineData("\"120%\"", "resources.r.max_disruptions: \"120%\" is more than 100%")]
    [InlineData("\"lots\"", "resources.r.max_disruptions: \"lots\" is neither a count (such as 2) nor a percentage (such as \"20%\")")]
    [InlineData("2.5", "resources.r.max_disruptions: 2.5 is not a whole number of instances")]
    [InlineData("[1]", "resources.r.max_disruptions: a list is neither a count (such as 2) nor a percentage (such as \"20%\")")]
    public void A_bad_disruption_budget_is_named_with_the_others(string value, string problem)
    {
        var config = AutoscalerConfig.Parse($$"""
            { "queues": { "default": ["r"] }, "resources": { "r": { "max_instances": 3, "max_disruptions": {{value}} } }, "max_instances": 0 }
            """);
        var problems = config.Problems(["local"], ["default"]);
        Assert.Contains(problem, problems);
        Assert.Contains("max_instances must be at least 1", problems); // not the first problem only
    }

    [Theory]
    [InlineData("2", 2, 10)]
    [InlineData("0", 0, 10)]
    [InlineData("\"20%\"", 2, 10)]
    [InlineData("\"20%\"", 1, 3)]
    [InlineData("\" 100% \"", 3, 3)]
    public void A_good_disruption_budget_allows_a_count_or_a_share_rounded_up(string value, int allowed, int instances)
    {
        var config = AutoscalerConfig.Parse($$"""{ "queues": { "default": ["r"] }, "resources": { "r": { "max_instances": 10, "max_disruptions": {{value}} } } }""");
        Assert.Empty(config.Problems(["local"], ["default"]));
        Assert.Equal(allowed, config.Resources["r"].MaxDisruptions!.Allowed(instances));
    }

    [Fact]
    public void A_good_file_has_no_problems()
    {
        var config = AutoscalerConfig.Parse("""
            { "queues": { "default": ["cpu"] },
              "resources": { "cpu": { "provider": "local", "max_instances": 3, "slots": 2 } } }
            """);
        Assert.Empty(config.Problems(["local"], ["default"]));
        Assert.Equal(3, config.Resources["cpu"].MaxInstances);
    }
}
