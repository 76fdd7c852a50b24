using System.Security.Cryptography;
using System.Text;

namespace Slipway.Agent;

/// <summary>
/// Virtual environments built from a task's requirements and kept by the hash of those requirements (and the
/// interpreter), so a second task with the same requirements starts at once. An environment is usable only
/// once its marker file is written; a half-built one (an agent killed while installing) is built again.
/// </summary>
internal sealed class PythonEnvironments(AgentOptions options)
{
    private const string ReadyMarker = ".slipway-ready";

    /// <summary>The interpreter to run the task with, and whether an existing environment was reused.</summary>
    public async Task<(string Python, bool CacheHit)> PrepareAsync(string? requirements, Action<string> log, CancellationToken ct)
    {
        if (options.SystemPython)
            return (options.Python, true);
        var normalized = Normalize(requirements);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(options.Python + "\n" + normalized)))[..16];
        var venv = Path.Combine(options.VenvsDirectory, key);
        var python = Path.Combine(venv, "bin", "python");
        var marker = Path.Combine(venv, ReadyMarker);
        if (File.Exists(marker))
            return (python, true);
        await using var held = await FileLock.AcquireAsync(venv + ".lock", ct).ConfigureAwait(false);
        if (File.Exists(marker))
            return (python, true);
        if (Directory.Exists(venv))
            Directory.Delete(venv, recursive: true);
        log($"creating a Python environment for these requirements ({key})\n");
        await RunAsync(options.Python, ["-m", "venv", venv], log, ct).ConfigureAwait(false);
        if (normalized.Length > 0)
        {
            var file = Path.Combine(venv, "requirements.txt");
            await File.WriteAllTextAsync(file, normalized + "\n", ct).ConfigureAwait(false);
            await RunAsync(python, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", .. options.PipArguments, "-r", file], log, ct).ConfigureAwait(false);
        }
        await File.WriteAllTextAsync(marker, DateTimeOffset.UtcNow.ToString("O"), ct).ConfigureAwait(false);
        return (python, false);
    }

    /// <summary>Requirements compare equal whatever their order, blank lines and comments.</summary>
    internal static string Normalize(string? requirements) => string.Join('\n',
        (requirements ?? "").Split('\n').Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).Distinct().Order(StringComparer.Ordinal));

    private static async Task RunAsync(string file, string[] args, Action<string> log, CancellationToken ct)
    {
        var code = await ChildProcess.RunAsync(file, args, null, log, ct).ConfigureAwait(false);
        if (code != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args.Take(3))} failed (exit code {code})");
    }
}
