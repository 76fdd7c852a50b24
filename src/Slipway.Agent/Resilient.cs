using Microsoft.Extensions.Logging;
using Slipway.Client;

namespace Slipway.Agent;

/// <summary>
/// Calls that must get through: while the server cannot be reached (restarting, network down) they are
/// retried until it answers or the agent stops. An answer that is an error is not retried.
/// </summary>
internal static class Resilient
{
    public static async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> call, ILogger logger, string what, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        var warned = false;
        while (true)
        {
            try
            {
                var result = await call(ct).ConfigureAwait(false);
                if (warned)
                    AgentLog.ServerBack(logger, what);
                return result;
            }
            catch (SlipwayException e) when (IsUnreachable(e) && !ct.IsCancellationRequested)
            {
                if (!warned)
                    AgentLog.ServerUnreachable(logger, what, e.Message);
                warned = true;
            }
            await Task.Delay(delay, ct).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(5_000, delay.TotalMilliseconds * 2));
        }
    }

    public static Task CallAsync(Func<CancellationToken, Task> call, ILogger logger, string what, CancellationToken ct) =>
        CallAsync(async c =>
        {
            await call(c).ConfigureAwait(false);
            return true;
        }, logger, what, ct);

    /// <summary>No answer came (connection refused, timeout, 502/503/504): the server is down or restarting.</summary>
    public static bool IsUnreachable(SlipwayException e) => e.ResultCode == 0 || e.HttpStatus is 502 or 503 or 504;
}
