using Slipway.Autoscaler.Simulation;
using Xunit.Abstractions;

namespace Slipway.Autoscaler.Tests;

/// <summary>The simulator replays the same seeded trace under both policies.</summary>
public sealed class SimulatorTests(ITestOutputHelper output)
{
    /// <summary>Room for the largest burst, so that waits measure the policies rather than a full pool.</summary>
    public static AutoscalerConfig SimulatedConfig()
    {
        var config = new AutoscalerConfig { Name = "sim", MaxInstances = 200, MaxLaunchesInFlight = 200, IdleTimeoutSeconds = 600, DrainRecheckSeconds = 5 };
        config.Queues["q"] = ["cpu"];
        config.Resources["cpu"] = new ResourceConfig { Provider = "sim", MaxInstances = 200 };
        return config;
    }

    [Fact]
    public void The_same_seed_gives_the_same_day()
    {
        var a = BurstyTrace.Generate(14);
        Assert.Equal(a, BurstyTrace.Generate(14));
        Assert.NotEqual(a, BurstyTrace.Generate(15));
        Assert.All(a, t => Assert.InRange(t.Duration.TotalMinutes, 1, 120));
    }

    [Fact]
    public void On_a_bursty_trace_slipway_waits_less_uses_no_more_instance_hours_and_never_launches_beyond_need()
    {
        var trace = BurstyTrace.Generate(14, bursts: 8, length: TimeSpan.FromHours(8));
        var simulator = new Simulator(trace);
        var slipway = simulator.RunSlipway(SimulatedConfig());
        var clearml = simulator.RunClearMl(maxInstances: 200);
        output.WriteLine(slipway.ToString());
        output.WriteLine(clearml.ToString());
        Assert.Equal(0, slipway.LaunchesBeyondNeed);
        Assert.True(slipway.P95Wait <= clearml.P95Wait * 0.5, $"p95 {slipway.P95Wait} vs {clearml.P95Wait}");
        Assert.True(slipway.InstanceHours <= clearml.InstanceHours, $"{slipway.InstanceHours:0.0} h vs {clearml.InstanceHours:0.0} h");
        Assert.True(slipway.MostInstances <= 200);
    }
}
