namespace Slipway.Autoscaler.Simulation;

/// <summary>A task of a trace: when it is enqueued and how long it runs once started.</summary>
public sealed record TraceTask(int Id, TimeSpan Arrival, TimeSpan Duration);

/// <summary>
/// A day of bursty work from a fixed seed: bursts of 1–200 tasks (log-uniform, so small ones are common) enqueued within a
/// minute, each task running 1–120 min (log-uniform). The same seed gives the same day, so policies are compared on equal work.
/// </summary>
public static class BurstyTrace
{
    public static List<TraceTask> Generate(int seed, int bursts = 24, TimeSpan? length = null)
    {
        var day = length ?? TimeSpan.FromDays(1);
        var random = new Random(seed);
        var tasks = new List<TraceTask>();
        for (var b = 0; b < bursts; b++)
        {
            var at = day * (random.NextDouble() * 0.9);
            var size = Math.Clamp((int)Math.Round(Math.Exp(random.NextDouble() * Math.Log(200))), 1, 200);
            for (var i = 0; i < size; i++)
            {
                var minutes = Math.Clamp(Math.Exp(random.NextDouble() * Math.Log(120)), 1, 120);
                tasks.Add(new TraceTask(0, at + TimeSpan.FromSeconds(random.NextDouble() * 60), TimeSpan.FromMinutes(minutes)));
            }
        }
        return tasks.OrderBy(t => t.Arrival).Select((t, i) => t with { Id = i }).ToList();
    }
}

/// <summary>A clock the simulator moves (one second at a time).</summary>
public sealed class SimulatedClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}
