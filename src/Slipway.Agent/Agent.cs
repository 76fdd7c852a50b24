using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Client;
using Slipway.Client.Tracking;

namespace Slipway.Agent;

/// <summary>
/// A worker that serves queues: each slot takes the next task from the first non-empty queue (in the order
/// given) and runs it to its end, then takes the next. An idle slot waits on the server
/// (<c>queues.get_next_task</c> with <c>wait</c>), so a task starts as soon as it is enqueued. Every slot
/// reports to the server as a worker of its own, with the machine's stats.
/// </summary>
public sealed class Agent : IDisposable
{
    private readonly MachineStats _stats = new();
    private readonly SemaphoreSlim _statsGate = new(1, 1);
    private volatile StatsSnapshot? _lastStats;
    private readonly Dictionary<string, string> _queueNames = [];
    private List<string> _queueIds = [];

    public Agent(SlipwayClient client, AgentOptions options, ILogger<Agent>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Client = client;
        Options = options;
        Logger = logger ?? NullLogger<Agent>.Instance;
        Code = new CodePreparer(options);
        Pythons = new PythonEnvironments(options);
    }

    public SlipwayClient Client { get; }

    public AgentOptions Options { get; }

    internal ILogger Logger { get; }

    internal CodePreparer Code { get; }

    internal PythonEnvironments Pythons { get; }

    /// <summary>The worker ids the slots report as.</summary>
    public IReadOnlyList<string> WorkerIds => Enumerable.Range(0, Options.Slots)
        .Select(i => Slot.WorkerIdFor(Options.WorkerPrefix, i, Options.GpusOf(i))).ToList();

    /// <summary>The workers the server has marked draining, as their last answers said.</summary>
    public IReadOnlyList<string> DrainingWorkers
    {
        get
        {
            lock (_slots)
                return _slots.Where(s => s.DrainReason is not null).Select(s => s.WorkerId).ToList();
        }
    }

    /// <summary>Why the agent stopped by itself (drained by the server, idle, the server unreachable, its task limit); null when it did not.</summary>
    public string? ShutdownReason { get; private set; }

    /// <summary>
    /// Serves the queues until <paramref name="ct"/> is cancelled, or the dead-man's switch fires (see <see cref="ShutdownReason"/>);
    /// running tasks are then stopped and the workers unregistered.
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _stop = stop;
        var watch = Options.IdleShutdown is null && Options.ServerUnreachableShutdown is null ? Task.CompletedTask : WatchForShutdownAsync(stop);
        var spot = Options.WatchSpotNotice ? WatchSpotNoticeAsync(stop.Token) : Task.CompletedTask;
        try
        {
            await ServeAllAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ShutdownReason is not null && !ct.IsCancellationRequested)
        {
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(false);
            await spot.ConfigureAwait(false);
        }
    }

    /// <summary>The interruption notice the machine got (a spot reclaim); once set, the agent takes no more work.</summary>
    public string? Interruption => _interruption;

    private volatile string? _interruption;

    /// <summary>Reads the spot notice every <see cref="AgentOptions.SpotNoticeInterval"/> until one comes; IMDS failures are logged once each spell.</summary>
    private async Task WatchSpotNoticeAsync(CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var notice = new SpotNotice(http, Options.Imds);
        using var timer = new PeriodicTimer(Options.SpotNoticeInterval);
        var failing = false;
        try
        {
            do
            {
                try
                {
                    if (await notice.CheckAsync(ct).ConfigureAwait(false) is { } text)
                    {
                        await InterruptedAsync(text, ct).ConfigureAwait(false);
                        return;
                    }
                    failing = false;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    if (!failing)
                        AgentLog.ImdsUnreadable(Logger, Options.Imds.ToString(), e.Message);
                    failing = true;
                }
            }
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// The machine is being reclaimed: no slot takes work any more, running tasks are ended and re-queued at once (their status
    /// message says why), and every worker reports the interruption (a busy one as soon as its task is back in its queue).
    /// </summary>
    private async Task InterruptedAsync(string notice, CancellationToken ct)
    {
        _interruption = notice;
        AgentLog.Interrupted(Logger, notice);
        List<Slot> slots;
        lock (_slots)
            slots = _slots.ToList();
        foreach (var slot in slots)
            slot.Watch?.Interrupt(TaskEnding.Requeue(notice));
        foreach (var slot in slots.Where(s => s.Current is null))
            await ReportAsync(slot, ct, withFreshStats: false).ConfigureAwait(false);
    }

    private readonly List<Slot> _slots = [];

    /// <summary>Stops the whole agent (the dead-man's switch, or every slot drained).</summary>
    private CancellationTokenSource? _stop;

    /// <summary>Tasks taken or being asked for, against <see cref="AgentOptions.MaxTasks"/>.</summary>
    private int _reserved;

    /// <summary>
    /// Stops the agent when all slots have been idle for <see cref="AgentOptions.IdleShutdown"/>, or the server has not answered
    /// a ping for <see cref="AgentOptions.ServerUnreachableShutdown"/>: the SkyPilot autostop idea, so a dead autoscaler leaks nothing.
    /// </summary>
    private async Task WatchForShutdownAsync(CancellationTokenSource stop)
    {
        var idleSince = DateTime.UtcNow;
        var lastAnswer = DateTime.UtcNow;
        // Short limits (tests, or an impatient user) are checked often enough to fire within a quarter of their length.
        var shortest = new[] { Options.IdleShutdown, Options.ServerUnreachableShutdown, Options.ShutdownCheckInterval * 4 }.OfType<TimeSpan>().Min();
        using var timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, shortest.Ticks / 4)));
        try
        {
            while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
            {
                var now = DateTime.UtcNow;
                bool busy;
                lock (_slots)
                    busy = _slots.Any(s => s.Current is not null);
                if (busy)
                    idleSince = now;
                if (Options.ServerUnreachableShutdown is { } unreachable)
                {
                    try
                    {
                        using var one = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                        one.CancelAfter(TimeSpan.FromTicks(Math.Min(Options.ShutdownCheckInterval.Ticks, Math.Max(TimeSpan.FromSeconds(1).Ticks, shortest.Ticks / 2))));
                        await Client.CallAsync("debug.ping", [], one.Token).ConfigureAwait(false);
                        lastAnswer = DateTime.UtcNow;
                    }
                    catch (Exception e) when (e is SlipwayException or OperationCanceledException && !stop.IsCancellationRequested)
                    {
                        if (now - lastAnswer >= unreachable)
                        {
                            ShutdownReason = $"the server has not answered for {(now - lastAnswer).TotalSeconds:0} s";
                            break;
                        }
                    }
                }
                if (Options.IdleShutdown is { } idle && now - idleSince >= idle)
                {
                    ShutdownReason = $"every slot has been idle for {(now - idleSince).TotalSeconds:0} s";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (ShutdownReason is { } reason)
        {
            AgentLog.ShuttingDown(Logger, reason);
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task ServeAllAsync(CancellationToken ct)
    {
        await ResolveQueuesAsync(ct).ConfigureAwait(false);
        var slots = Enumerable.Range(0, Options.Slots).Select(i => new Slot(i, Slot.WorkerIdFor(Options.WorkerPrefix, i, Options.GpusOf(i)), Options.GpusOf(i))).ToList();
        lock (_slots)
            _slots.AddRange(slots);
        foreach (var slot in slots)
        {
            await Resilient.CallAsync(c => Client.CallAsync("workers.register", new JsonObject
            {
                ["worker"] = slot.WorkerId,
                ["queues"] = new JsonArray(_queueIds.Select(q => (JsonNode?)q).ToArray()),
            }, c), Logger, "workers.register", ct).ConfigureAwait(false);
            AgentLog.Serving(Logger, slot.WorkerId, string.Join(", ", Options.Queues));
        }
        try
        {
            await Task.WhenAll(slots.Select(s => Task.Run(() => ServeAsync(s, ct), CancellationToken.None))).ConfigureAwait(false);
        }
        finally
        {
            using var bye = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            foreach (var slot in slots)
            {
                try
                {
                    await Client.CallAsync("workers.unregister", new JsonObject { ["worker"] = slot.WorkerId }, bye.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SlipwayException or OperationCanceledException)
                {
                    AgentLog.WorkerProblem(Logger, slot.WorkerId, "could not unregister: " + e.Message);
                }
            }
        }
    }

    private async Task ResolveQueuesAsync(CancellationToken ct)
    {
        var all = await Resilient.CallAsync(c => Client.Queues.ListAsync(c), Logger, "queues.get_all", ct).ConfigureAwait(false);
        _queueIds = [];
        foreach (var wanted in Options.Queues)
        {
            var queue = all.FirstOrDefault(q => q.Name == wanted || q.Id == wanted)
                        ?? throw new SlipwayException($"no queue named '{wanted}' (create it with 'slipway queue create {wanted}')");
            _queueIds.Add(queue.Id);
            _queueNames[queue.Id] = queue.Name;
        }
    }

    internal string QueueName(string queueId) => _queueNames.TryGetValue(queueId, out var name) ? name : queueId;

    private async Task ServeAsync(Slot slot, CancellationToken ct)
    {
        using var reporter = new CancellationTokenSource();
        var reports = ReportLoopAsync(slot, reporter.Token);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (Interruption is not null)
                {
                    // The worker stays registered, reporting the notice, until the machine goes.
                    await Task.Delay(Timeout.InfiniteTimeSpan, ct).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                    break;
                }
                if (slot.DrainReason is not null)
                {
                    await WhileDrainingAsync(slot, ct).ConfigureAwait(false);
                    continue;
                }
                // A slot reserves its task before it asks, so that slots together never take more than the limit.
                if (Options.MaxTasks is { } max && Interlocked.Increment(ref _reserved) > max)
                {
                    Interlocked.Decrement(ref _reserved);
                    ShutdownReason ??= $"ran its {max} task(s) (--max-tasks)";
                    break;
                }
                (string Task, string Queue)? next;
                try
                {
                    next = await Resilient.CallAsync(c => NextTaskAsync(slot, c), Logger, "queues.get_next_task", ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                catch (SlipwayException e)
                {
                    // An error answer (a queue deleted, a bad id): logged, and tried again 5 s later.
                    AgentLog.WorkerProblem(Logger, slot.WorkerId, e.Message);
                    if (Options.MaxTasks is not null)
                        Interlocked.Decrement(ref _reserved);
                    await Task.Delay(TimeSpan.FromSeconds(5), ct).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                    continue;
                }
                if (next is { } found)
                    await new TaskRun(this, slot, found.Task, found.Queue).RunAsync(ct).ConfigureAwait(false);
                else if (Options.MaxTasks is not null)
                    Interlocked.Decrement(ref _reserved);
            }
        }
        finally
        {
            await reporter.CancelAsync().ConfigureAwait(false);
            await reports.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A drained slot takes no work. Once every slot is drained and idle the agent stops (the autoscaler terminates its machine
    /// next); until then the slot re-reads its worker's state, and goes back to work if the drain is taken off.
    /// </summary>
    private async Task WhileDrainingAsync(Slot slot, CancellationToken ct)
    {
        bool drained;
        lock (_slots)
            drained = _slots.All(s => s.DrainReason is not null && s.Current is null);
        if (drained && slot.DrainReason is { } reason)
        {
            // The report that ends the slot's work also confirms the drain is still on.
            await ReportAsync(slot, ct, withFreshStats: false).ConfigureAwait(false);
            if (slot.DrainReason is not null && ShutdownReason is null)
            {
                ShutdownReason = $"drained by the server: {reason}";
                AgentLog.ShuttingDown(Logger, ShutdownReason);
                if (_stop is { } stop)
                    await stop.CancelAsync().ConfigureAwait(false);
            }
            return;
        }
        await Task.Delay(DrainCheckInterval, ct).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        if (!ct.IsCancellationRequested)
            await ReportAsync(slot, ct, withFreshStats: false).ConfigureAwait(false);
    }

    private TimeSpan DrainCheckInterval => TimeSpan.FromTicks(Math.Min(Options.ReportInterval.Ticks, TimeSpan.FromSeconds(1).Ticks));

    /// <summary>
    /// Reads a server answer's drain mark. A status report's answer is the worker's state (without the mark: not draining); a
    /// pop's only ever adds it, since a long poll that began before the drain ends without it.
    /// </summary>
    private void ReadDrain(Slot slot, JsonObject data, bool fromReport)
    {
        var reason = data["draining"]?.GetValue<bool>() == true ? data["drain_reason"]?.GetValue<string>() ?? "draining" : null;
        if (reason is null && !fromReport)
            return;
        if (reason is not null && slot.DrainReason is null)
            AgentLog.Draining(Logger, slot.WorkerId, reason);
        slot.DrainReason = reason;
    }

    /// <summary>
    /// The first queue in priority order that has a task. One queue: a single long poll. Several: each is
    /// tried at once, then the idle slot waits on the first queue (higher ones win when both fill up).
    /// </summary>
    private async Task<(string Task, string Queue)?> NextTaskAsync(Slot slot, CancellationToken ct)
    {
        if (_queueIds.Count > 1)
        {
            foreach (var queue in _queueIds)
            {
                if (await PopAsync(slot, queue, 0, ct).ConfigureAwait(false) is { } task)
                    return (task, queue);
                if (slot.DrainReason is not null)
                    return null;
            }
        }
        var wait = _queueIds.Count > 1 ? Math.Min(2, Options.PollWait.TotalSeconds) : Options.PollWait.TotalSeconds;
        var first = _queueIds[0];
        return await PopAsync(slot, first, (int)Math.Ceiling(wait), ct).ConfigureAwait(false) is { } t ? (t, first) : null;
    }

    /// <summary>One pop, naming the slot's worker so that the server can refuse a draining one.</summary>
    private async Task<string?> PopAsync(Slot slot, string queue, int waitSeconds, CancellationToken ct)
    {
        var body = new JsonObject { ["queue"] = queue, ["worker"] = slot.WorkerId };
        if (waitSeconds > 0)
            body["wait"] = waitSeconds;
        var data = await Client.CallAsync("queues.get_next_task", body, ct).ConfigureAwait(false);
        if (data["entry"]?["task"]?.GetValue<string>() is { } task)
            return task;
        ReadDrain(slot, data, fromReport: false);
        return null;
    }

    private async Task ReportLoopAsync(Slot slot, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Options.ReportInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
                await ReportAsync(slot, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Tells the server what the slot does now, with the machine's stats; a failure is logged and left for the next report.</summary>
    internal async Task ReportAsync(Slot slot, CancellationToken ct, bool withFreshStats = true)
    {
        try
        {
            var body = new JsonObject
            {
                ["worker"] = slot.WorkerId,
                ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                ["queues"] = new JsonArray(_queueIds.Select(q => (JsonNode?)q).ToArray()),
            };
            if (withFreshStats)
                body["machine_stats"] = await MachineStatsAsync(ct).ConfigureAwait(false);
            else if (_lastStats is { } cached)
                body["machine_stats"] = JsonNode.Parse(cached.Json);
            if (slot.Current is { } current)
            {
                body["task"] = current.Task;
                body["queue"] = current.Queue;
            }
            if (Interruption is { } interruption)
                body["interruption"] = interruption;
            ReadDrain(slot, await Client.CallAsync("workers.status_report", body, ct).ConfigureAwait(false), fromReport: true);
        }
        catch (SlipwayException e)
        {
            AgentLog.WorkerProblem(Logger, slot.WorkerId, "status report not sent: " + e.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One sample serves all slots' reports for a second (nvidia-smi is not cheap).</summary>
    private async Task<JsonObject> MachineStatsAsync(CancellationToken ct)
    {
        await _statsGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_lastStats is not { } last || DateTime.UtcNow - last.At > TimeSpan.FromSeconds(1))
            {
                var sample = await Task.Run(_stats.Sample, ct).ConfigureAwait(false);
                _lastStats = last = new StatsSnapshot(DateTime.UtcNow, MachineStatsReport.From(sample).ToJsonString());
            }
            return (JsonObject)JsonNode.Parse(last.Json)!;
        }
        finally
        {
            _statsGate.Release();
        }
    }

    /// <summary>The last machine-stats sample, kept as text so that slots can read it at the same time.</summary>
    private sealed record StatsSnapshot(DateTime At, string Json);

    public void Dispose() => _statsGate.Dispose();
}
