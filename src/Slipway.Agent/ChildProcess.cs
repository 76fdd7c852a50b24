using System.Diagnostics;
using System.Text;

namespace Slipway.Agent;

/// <summary>Starts processes with their output streamed, chunk by chunk as it arrives, to a callback.</summary>
internal static class ChildProcess
{
    /// <summary>Starts a process in its own session with stdout and stderr read into <paramref name="output"/>; the returned task ends when both streams close.</summary>
    public static (Process Process, Task Pumps) Start(ProcessStartInfo start, Action<string> output, bool ownSession)
    {
        if (ownSession && ProcessTree.Setsid is { } setsid)
        {
            start.ArgumentList.Insert(0, start.FileName);
            start.FileName = setsid;
        }
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        process.StandardInput.Close();
        var pumps = Task.WhenAll(
            Task.Run(() => PumpAsync(process.StandardOutput.BaseStream, output)),
            Task.Run(() => PumpAsync(process.StandardError.BaseStream, output)));
        return (process, pumps);
    }

    /// <summary>Runs a setup command (git, pip) to the end; its output goes to <paramref name="output"/>.</summary>
    public static async Task<int> RunAsync(string file, IEnumerable<string> args, string? workingDirectory, Action<string> output, CancellationToken ct,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
                start.Environment[key] = value;
        }
        var (process, pumps) = Start(start, output, ownSession: false);
        using (process)
        {
            try
            {
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            await pumps.ConfigureAwait(false);
            return process.ExitCode;
        }
    }

    /// <summary>Runs a command and returns its trimmed stdout; throws when it fails.</summary>
    public static async Task<string> ReadAsync(string file, IEnumerable<string> args, string? workingDirectory, CancellationToken ct)
    {
        var text = new StringBuilder();
        var argList = args.ToList();
        var code = await RunAsync(file, argList, workingDirectory, s => { lock (text) text.Append(s); }, ct).ConfigureAwait(false);
        if (code != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', argList)} exited with {code}: {text.ToString().Trim()}");
        return text.ToString().Trim();
    }

    private static async Task PumpAsync(Stream stream, Action<string> output)
    {
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[16 * 1024];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        int read;
        while ((read = await stream.ReadAsync(bytes).ConfigureAwait(false)) > 0)
        {
            var n = decoder.GetChars(bytes, 0, read, chars, 0, flush: false);
            if (n > 0)
                output(new string(chars, 0, n));
        }
    }
}
