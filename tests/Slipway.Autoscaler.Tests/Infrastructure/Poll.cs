namespace Slipway.Autoscaler.Tests.Infrastructure;

public static class Poll
{
    /// <summary>Reads until the condition holds, with a deadline (no sleep-and-hope), and returns what was read.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await read();
            if (condition(value))
                return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{what}: not reached within {timeout.TotalSeconds:0} s (last: {value})");
            await Task.Delay(100);
        }
    }
}
