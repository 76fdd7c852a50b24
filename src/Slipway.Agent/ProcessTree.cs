using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Slipway.Agent;

/// <summary>
/// Ends a task's whole process tree. The task process is started as the leader of its own session (through
/// <c>setsid</c>), so a signal to its process group reaches every descendant that stayed in it, and
/// <see cref="Process.Kill(bool)"/> then catches the ones that left the group but are still its children.
/// </summary>
internal static partial class ProcessTree
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    /// <summary>The program that puts the child in its own session, or null where there is none.</summary>
    public static string? Setsid { get; } = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    /// <summary>SIGTERM to the group, up to <paramref name="grace"/> to exit, then SIGKILL to the group and the tree.</summary>
    public static async Task EndAsync(Process process, TimeSpan grace)
    {
        int pid;
        try
        {
            pid = process.Id;
        }
        catch (InvalidOperationException)
        {
            return;
        }
        Signal(pid, SigTerm);
        using (var timeout = new CancellationTokenSource(grace))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        Signal(pid, SigKill);
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>After the leader exits, kills what is left of its group (background children it did not wait for).</summary>
    public static void KillGroup(int pid) => Signal(pid, SigKill);

    private static void Signal(int groupLeader, int signal)
    {
        if (Setsid is null || !OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            return;
        _ = kill(-groupLeader, signal);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
