using System.Diagnostics;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Agent;

/// <summary>
/// One task on one slot, start to end: marks it started, prepares its code and environment, runs the entry
/// point with the task's identity in its environment, ships its console, pings it, ends the process tree on an
/// abort, and sets the final status from the exit code.
/// </summary>
internal sealed class TaskRun(Agent agent, Slot slot, string taskId, string queueId)
{
    private readonly SlipwayClient _client = agent.Client;
    private readonly AgentOptions _options = agent.Options;

    public async Task RunAsync(CancellationToken shutdown)
    {
        var logger = agent.Logger;
        using var activity = AgentTelemetry.Source.StartActivity("task.run");
        activity?.SetTag("slipway.task.id", taskId);
        activity?.SetTag("slipway.queue.id", queueId);
        activity?.SetTag("slipway.worker", slot.WorkerId);
        var startedAt = Stopwatch.GetTimestamp();
        AgentTelemetry.BusySlots.Add(1);
        try
        {
            await RunTrackedAsync(activity, startedAt, shutdown).ConfigureAwait(false);
        }
        finally
        {
            AgentTelemetry.BusySlots.Add(-1);
        }
    }

    private async Task RunTrackedAsync(Activity? activity, long startedAt, CancellationToken shutdown)
    {
        var logger = agent.Logger;
        JsonObject task;
        // The worker says it runs the task before the task says it runs: a task in progress always names its
        // worker, so the server's watchdog can fail it should this agent die.
        slot.Running(taskId, queueId);
        var reported = agent.ReportAsync(slot, shutdown, withFreshStats: false);
        try
        {
            task = await Resilient.CallAsync(async ct => (await _client.Tasks.GetAsync(taskId, ct).ConfigureAwait(false)).Raw, logger, "tasks.get_by_id", shutdown).ConfigureAwait(false);
            await reported.ConfigureAwait(false);
            await Resilient.CallAsync(ct => _client.CallAsync("tasks.started", new JsonObject
            {
                ["task"] = taskId,
                ["force"] = true,
                ["status_reason"] = "worker started execution",
                ["status_message"] = $"Changed by Slipway agent {slot.WorkerId}",
            }, ct), logger, "tasks.started", shutdown).ConfigureAwait(false);
        }
        catch (SlipwayException e)
        {
            await reported.ConfigureAwait(false);
            AgentLog.TaskNotStarted(logger, taskId, e.Message);
            AgentTelemetry.Ended(activity, startedAt, "not_started");
            slot.Idle();
            return;
        }

        var directory = Path.Combine(_options.TasksDirectory, taskId);
        var shipper = new ConsoleShipper(_client, taskId, slot.WorkerId, _options.ConsoleFlushInterval);
        shipper.WriteLine($"task {taskId} pulled from {agent.QueueName(queueId)} by worker {slot.WorkerId}");
        TaskEnding ending;
        var watch = new TaskWatch(_client, taskId, _options, shutdown);
        slot.Watch = watch;
        if (agent.Interruption is { } interruption)
            watch.Interrupt(TaskEnding.Requeue(interruption));
        try
        {
            ending = await ExecuteAsync(task, directory, shipper, watch).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (watch.Reason is { } reason)
        {
            ending = reason;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ending = new TaskEnding("failed", $"the agent could not run the task: {e.Message}", $"slipway agent: {e.Message}");
        }
        finally
        {
            slot.Watch = null;
            await watch.DisposeAsync().ConfigureAwait(false);
        }
        if (ending.Status is not ("completed" or "failed"))
            AgentLog.TaskAborted(logger, taskId, ending.Reason);
        shipper.WriteLine(ending.ConsoleLine);
        await shipper.DisposeAsync().ConfigureAwait(false);

        // The last of the console and the final status get through even across a server restart; a shutting
        // down agent gives them a little time.
        using var finish = new CancellationTokenSource();
        if (shutdown.IsCancellationRequested)
            finish.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await Resilient.CallAsync(async ct =>
            {
                if (!await shipper.FlushAsync(ct).ConfigureAwait(false))
                    throw new SlipwayException("events.add_batch: not sent");
            }, logger, "events.add_batch", finish.Token).ConfigureAwait(false);
            if (ending.Status is { } status)
                await Resilient.CallAsync(ct => SetFinalStatusAsync(status, ending.Reason, ct), logger, "final status", finish.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (SlipwayException e)
        {
            AgentLog.TaskProblem(logger, taskId, e.Message);
        }
        AgentLog.TaskEnded(logger, taskId, ending.Status ?? "left as set by others", ending.Reason);
        AgentTelemetry.Ended(activity, startedAt, ending.Status ?? "set_by_others");
        slot.Idle();
        await agent.ReportAsync(slot, shutdown).ConfigureAwait(false);
        if (!_options.KeepWorkDirectories)
            TryDelete(directory);
    }

    private async Task<TaskEnding> ExecuteAsync(JsonObject task, string directory, ConsoleShipper shipper, TaskWatch watch)
    {
        var stopped = watch.Stopped;
        TryDelete(directory);
        var code = TaskCode.From(task);
        var (workingDirectory, commit) = await agent.Code.PrepareAsync(code, directory, shipper.Write, stopped).ConfigureAwait(false);
        if (code.IsLiteralScript)
            code = code with { EntryPoint = Path.GetFileName(code.EntryPoint is { Length: > 0 } e && !e.Contains(' ', StringComparison.Ordinal) ? e : "script.py") };
        if (code.Commit is null && commit is not null)
            _ = RecordCommitAsync(task, commit);
        var kind = TaskCommand.KindOf(code);
        string? python = null;
        if (kind == EntryKind.Python)
        {
            var requirements = code.Requirements;
            if (requirements is null && File.Exists(Path.Combine(workingDirectory, "requirements.txt")))
                requirements = await File.ReadAllTextAsync(Path.Combine(workingDirectory, "requirements.txt"), stopped).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            (python, var hit) = await agent.Pythons.PrepareAsync(requirements, shipper.Write, stopped).ConfigureAwait(false);
            shipper.WriteLine(FormattableString.Invariant($"Python environment ready in {clock.Elapsed.TotalMilliseconds:0.0} ms ({(_options.SystemPython ? "system interpreter" : hit ? "cached" : "built")}): {python}"));
        }
        stopped.ThrowIfCancellationRequested();

        var start = TaskCommand.Build(code, kind, workingDirectory, python);
        foreach (var (key, value) in ChildEnvironment())
            start.Environment[key] = value;
        var (process, pumps) = ChildProcess.Start(start, shipper.Write, ownSession: true);
        using (process)
        {
            AgentLog.TaskStarted(agent.Logger, taskId, agent.QueueName(queueId), slot.WorkerId, kind.ToString());
            TaskEnding? aborted = null;
            try
            {
                await process.WaitForExitAsync(stopped).ConfigureAwait(false);
                // Background processes the task left behind end with it.
                ProcessTree.KillGroup(process.Id);
            }
            catch (OperationCanceledException)
            {
                aborted = watch.Reason ?? TaskEnding.Shutdown;
                await ProcessTree.EndAsync(process, _options.KillGracePeriod).ConfigureAwait(false);
            }
            await Task.WhenAny(pumps, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false);
            return aborted ?? TaskEnding.FromExitCode(process.ExitCode);
        }
    }

    /// <summary>What the task's process gets on top of the agent's own environment: the task's identity and the server, as the official agent gives them.</summary>
    private Dictionary<string, string> ChildEnvironment()
    {
        var o = _client.Options;
        var env = new Dictionary<string, string>(_options.TaskEnvironment)
        {
            ["CLEARML_TASK_ID"] = taskId,
            ["CLEARML_WORKER_ID"] = slot.WorkerId,
            ["CLEARML_LOG_TASK_TO_BACKEND"] = "0",
            ["CLEARML_API_HOST"] = o.ApiServer.ToString().TrimEnd('/'),
            ["CLEARML_WEB_HOST"] = o.EffectiveWebServer.ToString().TrimEnd('/'),
            ["CLEARML_FILES_HOST"] = o.EffectiveFilesServer.ToString().TrimEnd('/'),
            ["PYTHONUNBUFFERED"] = "1",
        };
        if (o.AccessKey is not null && o.SecretKey is not null)
        {
            env["CLEARML_API_ACCESS_KEY"] = o.AccessKey;
            env["CLEARML_API_SECRET_KEY"] = o.SecretKey;
        }
        else if (o.AuthToken is not null)
        {
            env["CLEARML_AUTH_TOKEN"] = o.AuthToken;
        }
        if (slot.Gpus.Count > 0)
            env["CUDA_VISIBLE_DEVICES"] = string.Join(',', slot.Gpus);
        return env;
    }

    private async Task SetFinalStatusAsync(string status, string reason, CancellationToken ct)
    {
        // A status somebody else set meanwhile (the SDK in the task, a reset, the watchdog) is kept.
        var data = await _client.CallAsync("tasks.get_all", new JsonObject
        {
            ["id"] = new JsonArray(taskId),
            ["only_fields"] = new JsonArray("status"),
            ["search_hidden"] = true,
        }, ct).ConfigureAwait(false);
        if ((data["tasks"] as JsonArray)?.FirstOrDefault()?["status"]?.GetValue<string>() != "in_progress")
            return;
        var endpoint = status switch
        {
            "completed" => "tasks.completed",
            "failed" => "tasks.failed",
            TaskEnding.Requeued => "tasks.enqueue",
            _ => "tasks.stopped",
        };
        var body = new JsonObject
        {
            ["task"] = taskId,
            ["status_reason"] = reason,
            ["status_message"] = $"Changed by Slipway agent {slot.WorkerId}",
        };
        if (status == TaskEnding.Requeued)
        {
            // Straight from in progress back to the queue it came from, the message saying why.
            body["queue"] = queueId;
            body["force"] = true;
            body["status_reason"] = $"re-queued by Slipway agent {slot.WorkerId}";
            body["status_message"] = $"re-queued: {reason}";
        }
        try
        {
            await _client.CallAsync(endpoint, body, ct).ConfigureAwait(false);
        }
        catch (SlipwayException e) when (!Resilient.IsUnreachable(e))
        {
            AgentLog.TaskProblem(agent.Logger, taskId, e.Message);
        }
    }

    private async Task RecordCommitAsync(JsonObject task, string commit)
    {
        try
        {
            var script = (task["script"] as JsonObject)?.DeepClone() as JsonObject ?? [];
            script["version_num"] = commit;
            await _client.CallAsync("tasks.edit", new JsonObject { ["task"] = taskId, ["force"] = true, ["script"] = script }).ConfigureAwait(false);
        }
        catch (SlipwayException e)
        {
            AgentLog.TaskProblem(agent.Logger, taskId, "could not record the commit: " + e.Message);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
                Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
