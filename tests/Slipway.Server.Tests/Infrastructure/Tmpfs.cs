using System.Diagnostics;

namespace Slipway.Server.Tests.Infrastructure;

/// <summary>A small tmpfs mounted on a folder, to run out of disk for real; needs root (or CAP_SYS_ADMIN) on Linux.</summary>
public sealed class Tmpfs : IDisposable
{
    private Tmpfs(string folder) => Folder = folder;

    public string Folder { get; }

    /// <summary>Why no tmpfs can be mounted here, or null when one can (probed once, by mounting one).</summary>
    public static readonly string? Unavailable = Probe();

    public static Tmpfs Mount(string folder, string size, bool readOnly = false)
    {
        Directory.CreateDirectory(folder);
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", readOnly ? $"ro,size={size}" : $"size={size}", "tmpfs", folder);
        if (code != 0)
            throw new InvalidOperationException($"mount failed: {output}");
        return new Tmpfs(folder);
    }

    public void Dispose() => Run("umount", "-l", Folder);

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
            return "a tmpfs can only be mounted on Linux";
        var folder = Path.Combine(Path.GetTempPath(), "slipway-tmpfs-probe-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(folder);
            var (code, output) = Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder);
            if (code != 0)
                return $"mounting a tmpfs is not permitted here ({output.Trim()})";
            Run("umount", folder);
            return null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"mount cannot be run here ({e.Message})";
        }
        finally
        {
            try
            {
                Directory.Delete(folder);
            }
            catch (IOException)
            {
            }
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}

/// <summary>A fact that needs a real full disk: skipped, with the reason, where no tmpfs can be mounted.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (Tmpfs.Unavailable is { } reason)
            Skip = reason;
    }
}

/// <summary>A full-disk fact on PostgreSQL: also needs the throwaway cluster this machine starts, to hand it a tablespace folder.</summary>
public sealed class TmpfsPostgresFactAttribute : FactAttribute
{
    public TmpfsPostgresFactAttribute()
    {
        if (Tmpfs.Unavailable is { } reason)
            Skip = reason;
        else if (!PostgresCluster.RunsAsPostgresUser)
            Skip = "needs the throwaway PostgreSQL cluster started here as root (SLIPWAY_TEST_POSTGRES names another)";
    }
}
