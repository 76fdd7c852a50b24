using System.Collections.Concurrent;
using Slipway.Server.Core;

namespace Slipway.Server.Auth;

/// <summary>
/// Slows down guessing: after a few wrong sign-ins for one access key or from one address, further attempts are refused
/// with 429 for a time that doubles with each failure (up to 15 minutes); a success clears the key's count. Counted per
/// server process: with N replicas a guesser gets N times the attempts, still far too few for a 48-character secret.
/// </summary>
public sealed class LoginThrottle(TimeProvider clock)
{
    public const int FreeFailuresPerKey = 5;
    public const int FreeFailuresPerAddress = 20;
    private static readonly TimeSpan MaxLockout = TimeSpan.FromMinutes(15);
    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<string, Failures> _failures = new(StringComparer.Ordinal);

    private sealed record Failures(int Count, DateTimeOffset LockedUntil, DateTimeOffset Last);

    /// <summary>Throws 429 while the key or the address is locked out.</summary>
    public void Check(string accessKey, string? address)
    {
        var now = clock.GetUtcNow();
        foreach (var subject in Subjects(accessKey, address))
        {
            if (_failures.TryGetValue(subject, out var f) && f.LockedUntil > now)
                throw new ApiException(429, 0, $"Too many failed sign-ins; try again in {Math.Ceiling((f.LockedUntil - now).TotalSeconds)} s");
        }
    }

    public void Failed(string accessKey, string? address)
    {
        var now = clock.GetUtcNow();
        if (_failures.Count >= MaxTracked)
            Forget(now);
        Count("key:" + accessKey, FreeFailuresPerKey, now);
        if (address is not null)
            Count("ip:" + address, FreeFailuresPerAddress, now);
    }

    public void Succeeded(string accessKey) => _failures.TryRemove("key:" + accessKey, out _);

    private void Count(string subject, int free, DateTimeOffset now) =>
        _failures.AddOrUpdate(subject, _ => new Failures(1, now, now), (_, f) =>
        {
            // An old run of failures is forgiven after the longest lockout has passed without another.
            var count = now - f.Last > MaxLockout ? 1 : f.Count + 1;
            var lockout = count <= free ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(MaxLockout.TotalSeconds, Math.Pow(2, count - free - 1)));
            return new Failures(count, now + lockout, now);
        });

    private void Forget(DateTimeOffset now)
    {
        foreach (var (subject, f) in _failures)
        {
            if (now - f.Last > MaxLockout)
                _failures.TryRemove(subject, out _);
        }
    }

    private static IEnumerable<string> Subjects(string accessKey, string? address) =>
        address is null ? ["key:" + accessKey] : ["key:" + accessKey, "ip:" + address];
}
