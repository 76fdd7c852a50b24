using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Slipway.Serving.Python;

/// <summary>
/// The interpreter a Python-engine version runs under: the configured one when the version lists no requirements, otherwise
/// a virtual environment built from them the way the agent builds a task's (python -m venv, then pip install -r), kept by
/// the hash of the interpreter and the normalized requirements so versions with the same list share one, and usable only
/// once its marker file is written (a half-built one is built again).
/// </summary>
internal static class PythonEnvironment
{
    private const string ReadyMarker = ".slipway-ready";

    public static async Task<string> PrepareAsync(string python, string? requirements, string folder, Action<string> log, CancellationToken ct)
    {
        var normalized = Normalize(requirements);
        if (normalized.Length == 0)
            return python;
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(python + "\n" + normalized)))[..16];
        var venv = Path.Combine(folder, key);
        var interpreter = Path.Combine(venv, "bin", "python");
        var marker = Path.Combine(venv, ReadyMarker);
        if (File.Exists(marker))
            return interpreter;
        Directory.CreateDirectory(folder);
        await using var held = await LockAsync(venv + ".lock", ct);
        if (File.Exists(marker))
            return interpreter;
        if (Directory.Exists(venv))
            Directory.Delete(venv, recursive: true);
        log($"creating a Python environment for its requirements ({key})");
        await RunAsync(python, ["-m", "venv", venv], log, ct);
        var file = Path.Combine(venv, "requirements.txt");
        await File.WriteAllTextAsync(file, normalized + "\n", ct);
        await RunAsync(interpreter, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", file], log, ct);
        await File.WriteAllTextAsync(marker, DateTimeOffset.UtcNow.ToString("O"), ct);
        return interpreter;
    }

    /// <summary>Requirements compare equal whatever their order, blank lines and comments.</summary>
    internal static string Normalize(string? requirements) => string.Join('\n',
        (requirements ?? "").Split('\n').Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).Distinct().Order(StringComparer.Ordinal));

    private static async Task<FileStream> LockAsync(string path, CancellationToken ct)
    {
        var delay = 10;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(delay, ct);
                delay = Math.Min(delay * 2, 500);
            }
        }
    }

    private static async Task RunAsync(string file, string[] args, Action<string> log, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var tail = new Queue<string>();
        async Task Pump(StreamReader reader)
        {
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                log(line);
                lock (tail)
                {
                    tail.Enqueue(line);
                    if (tail.Count > 3)
                        tail.Dequeue();
                }
            }
        }
        try
        {
            await Task.WhenAll(Pump(process.StandardOutput), Pump(process.StandardError), process.WaitForExitAsync(ct));
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args.Take(3))} failed (exit code {process.ExitCode}): {string.Join(" | ", tail)}");
    }
}
