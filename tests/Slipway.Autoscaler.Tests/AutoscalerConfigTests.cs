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
