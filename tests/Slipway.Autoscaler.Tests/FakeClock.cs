namespace Slipway.Autoscaler.Tests;

/// <summary>A clock the test moves by hand (only <see cref="GetUtcNow"/> is used by the reconciler).</summary>
public sealed class FakeClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public FakeClock() : this(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
