using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Slipway.Serving.Python;

/// <summary>What a worker answered: a JSON or raw result, the time the Preprocess hooks took inside Python, and custom statistics.</summary>
public sealed record WorkerAnswer(bool IsJson, byte[] Result, long PythonNanoseconds, JsonElement? Statistics);

/// <summary>An exception raised by the version's Python code while answering; the worker keeps serving.</summary>
public sealed class PythonCodeException(string stage, string type, string message, string traceback)
    : Exception($"{stage} raised {type}: {message}")
{
    public string Stage { get; } = stage;
    public string PythonType { get; } = type;
    public string PythonMessage { get; } = message;
    public string PythonTraceback { get; } = traceback;
}

/// <summary>The worker process is gone (crashed, killed, or stopped) or not running: the request gets a 503.</summary>
public sealed class WorkerUnavailableException(string message) : Exception(message);

/// <summary>A request took longer than the time limit in the worker, which was killed for it: the request gets a 504.</summary>
public sealed class WorkerTimeoutException(string message) : Exception(message);

/// <summary>
/// One life of a Python worker: the process running slipway_runner.py and the framed protocol over its stdin and stdout
/// (see the runner's docstring). Requests are multiplexed by id; the worker answers them in order, one at a time. When the
/// process exits every request in flight fails at once with the reason, never hangs.
/// </summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    public const byte CallJson = 1, CallBytes = 2;

    /// <summary>Added to a call's kind when the endpoint's metric rule does not sample the request: the code gets no statistics function.</summary>
    public const byte NotSampled = 2;
    private const byte Ready = 10, LoadFailed = 11, AnswerJson = 12, AnswerBytes = 13, Error = 14;
    private const int HeaderSize = 9;
    private const int MaxFrame = 1 << 30;

    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly ILogger _logger;
    private readonly string _label;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<WorkerAnswer>> _pending = new();
    private readonly TaskCompletionSource<JsonElement> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly Queue<string> _lastErrors = new();
    private readonly Task _reader;
    private readonly Task _errors;
    private volatile string? _gone;
    private volatile string? _killedBecause;
    private uint _nextId;

    private WorkerProcess(Process process, ILogger logger, string label)
    {
        _process = process;
        _logger = logger;
        _label = label;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        _reader = Task.Run(ReadLoopAsync);
        _errors = Task.Run(ErrorLoopAsync);
    }

    public int Id => _process.Id;

    /// <summary>Completes with the reason once the process has exited and its answers are read.</summary>
    public Task<string> Exited => _exited.Task;

    /// <summary>Starts the runner for one version's code and model file; <see cref="WaitReadyAsync"/> tells how the load went.</summary>
    public static WorkerProcess Start(string python, string runner, string code, string model, ServedVersion version, ILogger logger)
    {
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory.Exists(code) ? code : Path.GetDirectoryName(Path.GetFullPath(code))!,
        };
        foreach (var arg in new[] { "-u", runner, "--code", code, "--model", model, "--endpoint", version.EndpointName,
                     "--version", version.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), "--model-id", version.ModelId })
            start.ArgumentList.Add(arg);
        start.Environment["PYTHONUNBUFFERED"] = "1";
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}");
        return new WorkerProcess(process, logger, $"{version.EndpointName} v{version.Number}");
    }

    /// <summary>Waits until the Preprocess class is loaded; throws <see cref="PythonCodeException"/> for an error in it, or <see cref="WorkerUnavailableException"/> when the process dies first.</summary>
    public async Task<JsonElement> WaitReadyAsync(CancellationToken ct)
    {
        var done = await Task.WhenAny(_ready.Task, _exited.Task).WaitAsync(ct);
        if (done == _ready.Task)
            return await _ready.Task;
        throw new WorkerUnavailableException($"{await _exited.Task}, while loading");
    }

    /// <summary>Sends one request and waits for its answer, up to <paramref name="timeout"/>; past it the worker is killed.</summary>
    public async Task<WorkerAnswer> CallAsync(ReadOnlyMemory<byte> body, bool json, TimeSpan timeout, CancellationToken ct, bool sampled = true)
    {
        if (_gone is { } reason)
            throw new WorkerUnavailableException(reason);
        var id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<WorkerAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        // The reader fails what is pending when the process exits; a request added after that sweep fails here.
        if (_gone is { } late && _pending.TryRemove(id, out _))
            throw new WorkerUnavailableException(late);
        var frame = ArrayPool<byte>.Shared.Rent(HeaderSize + body.Length);
        try
        {
            BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)body.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), id);
            frame[8] = (byte)((json ? CallJson : CallBytes) + (sampled ? 0 : NotSampled));
            body.Span.CopyTo(frame.AsSpan(HeaderSize));
            await _write.WaitAsync(ct);
            try
            {
                await _input.WriteAsync(frame.AsMemory(0, HeaderSize + body.Length), CancellationToken.None);
                await _input.FlushAsync(CancellationToken.None);
            }
            finally
            {
                _write.Release();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            _pending.TryRemove(id, out _);
            throw new WorkerUnavailableException(_gone ?? $"the Python worker does not take requests ({e.Message})");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
        try
        {
            return await answer.Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            // The worker is still inside this request and would hold every later one: it is ended, the supervisor restarts it.
            _killedBecause ??= $"the Python worker (pid {Id}) was killed: a request took longer than {timeout.TotalSeconds:0.#} s";
            Kill();
            throw new WorkerTimeoutException($"the request took longer than {timeout.TotalSeconds:0.#} s in the Python code; its worker is restarted");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[HeaderSize];
        try
        {
            while (true)
            {
                await _output.ReadExactlyAsync(header);
                var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
                var id = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
                if (length > MaxFrame)
                    throw new InvalidDataException($"a frame of {length} bytes");
                var payload = new byte[length];
                await _output.ReadExactlyAsync(payload);
                Dispatch(header[8], id, payload);
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ObjectDisposedException or InvalidDataException or JsonException)
        {
            if (e is InvalidDataException or JsonException)
            {
                // A worker that breaks the protocol cannot be trusted with the next frame: it is ended and restarted.
                WorkerLog.ProtocolError(_logger, _label, e.Message);
                Kill();
            }
        }
        await _process.WaitForExitAsync();
        // A child the user's code started may hold stderr open after the worker is gone; its last lines are not waited for.
        await Task.WhenAny(_errors, Task.Delay(TimeSpan.FromSeconds(1)));
        var reason = _killedBecause ?? ExitReason();
        _gone = reason;
        foreach (var (id, answer) in _pending)
        {
            if (_pending.TryRemove(id, out _))
                answer.TrySetException(new WorkerUnavailableException(reason));
        }
        _exited.TrySetResult(reason);
    }

    private void Dispatch(byte kind, uint id, byte[] payload)
    {
        switch (kind)
        {
            case Ready:
                _ready.TrySetResult(JsonDocument.Parse(payload).RootElement.Clone());
                return;
            case LoadFailed:
            case Error:
            {
                using var doc = JsonDocument.Parse(payload);
                var root = doc.RootElement;
                var error = new PythonCodeException(Text(root, "stage"), Text(root, "type"), Text(root, "message"), Text(root, "traceback"));
                if (kind == LoadFailed)
                    _ready.TrySetException(error);
                else if (_pending.TryRemove(id, out var failed))
                    failed.TrySetException(error);
                return;
            }
            case AnswerJson:
            case AnswerBytes:
            {
                if (!_pending.TryRemove(id, out var answer))
                    return; // its caller gave up (the client went away)
                var metaLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload);
                using var meta = JsonDocument.Parse(payload.AsMemory(4, metaLength));
                var ns = meta.RootElement.TryGetProperty("ns", out var t) ? t.GetInt64() : 0;
                JsonElement? stats = meta.RootElement.TryGetProperty("stats", out var s) ? s.Clone() : null;
                answer.TrySetResult(new WorkerAnswer(kind == AnswerJson, payload[(4 + metaLength)..], ns, stats));
                return;
            }
            default:
                throw new InvalidDataException($"unknown frame kind {kind}");
        }
    }

    private static string Text(JsonElement root, string name) => root.TryGetProperty(name, out var v) ? v.GetString() ?? "" : "";

    private async Task ErrorLoopAsync()
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync() is { } line)
            {
                WorkerLog.Output(_logger, _label, line);
                lock (_lastErrors)
                {
                    _lastErrors.Enqueue(line);
                    if (_lastErrors.Count > 5)
                        _lastErrors.Dequeue();
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    private string ExitReason()
    {
        var code = _process.ExitCode;
        // .NET reports a process ended by a signal as 128 + the signal.
        var how = code > 128 ? $"killed by signal {code - 128}" : $"exit code {code}";
        string tail;
        lock (_lastErrors)
            tail = _lastErrors.Count > 0 ? $": {string.Join(" | ", _lastErrors)}" : "";
        return $"the Python worker (pid {_process.Id}) exited, {how}{(code > 128 ? "" : tail)}";
    }

    /// <summary>Closes its stdin (the runner exits at end of input), waits up to <paramref name="grace"/>, then kills the process tree.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _gone ??= "the Python worker is stopping";
        var held = await _write.WaitAsync(grace);
        try
        {
            _input.Dispose();
        }
        catch (IOException)
        {
            // The pipe is already broken: the process is gone.
        }
        finally
        {
            if (held)
                _write.Release();
        }
        using (var timeout = new CancellationTokenSource(grace))
        {
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
        await _reader;
    }

    /// <summary>Kills the process at once (tests and shutdown of a version that will not stop).</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(2));
        _process.Dispose();
        _write.Dispose();
    }
}
