using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Slipway.Serving.Python;

/// <summary>
/// The supervised Python worker of one endpoint version: starts the runner, reports when its Preprocess class is loaded,
/// and restarts a worker that dies (killed mid-load or mid-request, out of memory, a crash in native code) with back-off,
/// reporting the failure meanwhile. An exception in the user's code while loading is final, like an ONNX file that does not
/// load: the version stays failed with the Python error until its configuration changes.
/// </summary>
internal sealed class PythonWorker(
    string python,
    string runner,
    string code,
    string model,
    ServedVersion version,
    ServingOptions options,
    ILogger logger,
    Action<JsonElement> onReady,
    Action<string> onFailed) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private volatile WorkerProcess? _current;
    private volatile WorkerProcess? _serving;
    private Task _loop = Task.CompletedTask;

    /// <summary>The running worker's process id, or null between lives (tests watch it).</summary>
    public int? ProcessId => _current?.Id;

    /// <summary>How many worker processes were started (the first one included).</summary>
    public int Starts { get; private set; }

    public void Start() => _loop = Task.Run(SuperviseAsync);

    /// <summary>Runs one request through the worker that is serving; throws <see cref="WorkerUnavailableException"/> between lives.</summary>
    public Task<WorkerAnswer> CallAsync(ReadOnlyMemory<byte> body, bool json, CancellationToken ct, bool sampled = true) =>
        (_serving ?? throw new WorkerUnavailableException($"the Python worker of {version.EndpointName} version {version.Number} is restarting"))
        .CallAsync(body, json, options.PythonRequestTimeout, ct, sampled);

    private async Task SuperviseAsync()
    {
        var delay = options.WorkerRestartDelay;
        while (!_stop.IsCancellationRequested)
        {
            WorkerProcess process;
            try
            {
                process = WorkerProcess.Start(python, runner, code, model, version, logger);
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                onFailed($"the Python interpreter '{python}' could not be started: {e.Message}");
                return;
            }
            Starts++;
            _current = process;
            string reason;
            try
            {
                var loaded = await process.WaitReadyAsync(_stop.Token);
                _serving = process;
                onReady(loaded);
                var servingSince = Stopwatch.StartNew();
                reason = await process.Exited.WaitAsync(_stop.Token);
                _serving = null;
                // A worker that served a good while before it died starts over with the shortest delay.
                if (servingSince.Elapsed > options.WorkerMaxRestartDelay)
                    delay = options.WorkerRestartDelay;
                reason += ", while serving";
            }
            catch (PythonCodeException e)
            {
                onFailed($"the Preprocess code failed to load: {e.PythonType}: {e.PythonMessage}");
                WorkerLog.Traceback(logger, version.EndpointName, version.Number, e.PythonTraceback);
                return; // the process exits by itself after reporting; DisposeAsync reaps it
            }
            catch (WorkerUnavailableException e)
            {
                reason = e.Message;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            onFailed(string.Create(CultureInfo.InvariantCulture, $"{reason}; restarting in {delay.TotalSeconds:0.##} s"));
            _current = null;
            await process.DisposeAsync();
            try
            {
                await Task.Delay(delay, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.WorkerMaxRestartDelay.Ticks));
        }
    }

    /// <summary>Kills the serving process (tests: a crash).</summary>
    internal void KillCurrent() => _current?.Kill();

    /// <summary>Stops supervising and stops the process: requests in flight finish first (up to a grace period).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _serving = null;
        if (_current is { } process)
        {
            _current = null;
            await process.DisposeAsync();
        }
        _stop.Dispose();
    }
}
