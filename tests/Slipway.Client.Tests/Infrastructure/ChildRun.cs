using System.Diagnostics;
using System.Text;

namespace Slipway.Client.Tests.Infrastructure;

/// <summary>The tracked test program (tests/Slipway.Client.TestProgram) running as a child process against a test server.</summary>
public sealed class ChildRun : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<string> _taskId = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildRun(Process process) => _process = process;

    public static string ProgramPath => Path.Combine(AppContext.BaseDirectory, "Slipway.Client.TestProgram.dll");

    public static ChildRun Start(ClientTestServer server, string project, IEnumerable<string> args, IReadOnlyDictionary<string, string>? extraEnvironment = null,
        string? program = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(program ?? ProgramPath);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("CLEARML_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        foreach (var (key, value) in server.Environment())
            start.Environment[key] = value;
        start.Environment["TEST_PROJECT"] = project;
        start.Environment["CLEARML_CONFIG_FILE"] = "/nonexistent";
        foreach (var (key, value) in extraEnvironment ?? new Dictionary<string, string>())
            start.Environment[key] = value;
        var process = new Process { StartInfo = start };
        var run = new ChildRun(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (run._stdout)
                run._stdout.AppendLine(e.Data);
            if (e.Data.StartsWith("task ", StringComparison.Ordinal))
                run._taskId.TrySetResult(e.Data.Split(' ')[1]);
            if (e.Data == "waiting")
                run._waiting.TrySetResult();
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (run._stderr)
                    run._stderr.AppendLine(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return run;
    }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_stdout)
                return _stdout.ToString();
        }
    }

    public string Errors
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    public Task<string> TaskId => WithExit(_taskId.Task);

    public Task Waiting => WithExit(_waiting.Task);

    /// <summary>Fails with the child's output if it exits before <paramref name="awaited"/> completes.</summary>
    private async Task<T> WithExit<T>(Task<T> awaited)
    {
        var exited = _process.WaitForExitAsync();
        if (await Task.WhenAny(awaited, exited, Task.Delay(TimeSpan.FromMinutes(2))) != awaited)
            throw new InvalidOperationException($"the child ended or hung early.\nstdout:\n{Output}\nstderr:\n{Errors}");
        return await awaited;
    }

    private async Task WithExit(Task awaited) => await WithExit(awaited.ContinueWith(_ => 0, TaskScheduler.Default));

    /// <summary>Whether the child started with <paramref name="signal"/> ignored (Linux: the SigIgn mask in /proc).</summary>
    public bool Ignores(int signal)
    {
        var status = $"/proc/{_process.Id}/status";
        if (!File.Exists(status))
            return false;
        var mask = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))?["SigIgn:".Length..].Trim();
        return mask is not null && (Convert.ToUInt64(mask, 16) & (1UL << (signal - 1))) != 0;
    }

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Waits for the child to end and returns its exit code.</summary>
    public async Task<int> ExitAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"the child did not end.\nstdout:\n{Output}\nstderr:\n{Errors}");
        }
        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
