using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Agent;

/// <summary>
/// Watches a task from the moment the agent takes it until it ends: polls its status for an abort
/// (<c>status_message</c> "stopping", or a status changed under it), pings it, and turns an abort or the
/// agent's shutdown into <see cref="Stopped"/>, so that preparing the code, building the environment and the
/// running process all end alike. While the server cannot be reached the task simply keeps going.
/// </summary>
internal sealed class TaskWatch : IAsyncDisposable
{
    private readonly SlipwayClient _client;
    private readonly string _taskId;
    private readonly AgentOptions _options;
    private readonly CancellationToken _shutdown;
    private readonly CancellationTokenSource _stopped;
    private readonly CancellationTokenSource _done = new();
    private readonly Task _loop;
    private TaskEnding? _reason;

    public TaskWatch(SlipwayClient client, string taskId, AgentOptions options, CancellationToken shutdown)
    {
        _client = client;
        _taskId = taskId;
        _options = options;
        _shutdown = shutdown;
        _stopped = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        _loop = Task.Run(LoopAsync, CancellationToken.None);
    }

    /// <summary>Cancelled when the task is aborted or the agent shuts down.</summary>
    public CancellationToken Stopped => _stopped.Token;

    /// <summary>Why <see cref="Stopped"/> was cancelled; null while it was not.</summary>
    public TaskEnding? Reason => _reason ?? (_shutdown.IsCancellationRequested ? TaskEnding.Shutdown : null);

    /// <summary>Ends the task from outside (the machine is being reclaimed): <see cref="Stopped"/> is cancelled with this reason.</summary>
    public void Interrupt(TaskEnding ending)
    {
        _reason ??= ending;
        try
        {
            _stopped.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task LoopAsync()
    {
        var lastPing = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(_options.AbortPollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_done.Token).ConfigureAwait(false))
            {
                if (await PollAsync().ConfigureAwait(false) is { } ending)
                {
                    _reason = ending;
                    await _stopped.CancelAsync().ConfigureAwait(false);
                    return;
                }
                if (lastPing.Elapsed >= _options.ReportInterval)
                {
                    await Quietly(_client.CallAsync("tasks.ping", new JsonObject { ["task"] = _taskId }, _done.Token)).ConfigureAwait(false);
                    lastPing.Restart();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<TaskEnding?> PollAsync()
    {
        JsonObject data;
        try
        {
            data = await _client.CallAsync("tasks.get_all", new JsonObject
            {
                ["id"] = new JsonArray(_taskId),
                ["only_fields"] = new JsonArray("status", "status_message"),
                ["search_hidden"] = true,
            }, _done.Token).ConfigureAwait(false);
        }
        catch (SlipwayException)
        {
            // The server is unreachable or restarting: the task keeps running, its console is kept.
            return null;
        }
        var current = (data["tasks"] as JsonArray)?.FirstOrDefault() as JsonObject;
        var status = current?["status"]?.GetValue<string>();
        if (current is null)
            return new TaskEnding(null, "the task was deleted", "Process aborted: the task was deleted");
        if (status == "in_progress" && current["status_message"]?.GetValue<string>() == "stopping")
            return new TaskEnding("stopped", "user abort", "Process aborted by the user");
        if (status != "in_progress")
            return new TaskEnding(null, $"the task became {status}", $"Process aborted: the task became {status}");
        return null;
    }

    private static async Task Quietly(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (SlipwayException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _done.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _done.Dispose();
        _stopped.Dispose();
    }
}
