using System.Diagnostics;

namespace Slipway.TestSupport;

/// <summary>
/// Cleans up what a test run started outside its own process tree (a PostgreSQL cluster that pg_ctl daemonised, a moto
/// server, their folders) once the test host is gone, however it ended: the runner may end the host before exit
/// handlers run. A watcher in its own session (so killing the host's tree does not take it along) polls the host's
/// pid and then runs the cleanup.
/// </summary>
public static class Reaper
{
    public static void AfterThisProcess(string shellCleanup)
    {
        if (OperatingSystem.IsWindows())
            return;
        // Its output goes nowhere: a pipe to the host would be broken by then, and writing to it would end the watcher.
        var watch = $"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; {shellCleanup}";
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var arg in new[] { "sh", "-c", watch })
            start.ArgumentList.Add(arg);
        using var watcher = Process.Start(start);
    }
}
