namespace Slipway.Autoscaler;

/// <summary>
/// The policy, as a pure function of the two truths (provider instances found by tag, server workers and queue entries)
/// and the remembered state. It changes <see cref="AutoscalerState"/> in place and returns what to carry out; it does no
/// I/O, so tests, the dry run and the simulator drive it with a fake clock.
/// </summary>
public sealed class Reconciler(AutoscalerConfig config, TimeProvider clock)
{
    /// <summary>How long ended instance records are kept for the status page before they are dropped.</summary>
    public static readonly TimeSpan EndedRecordRetention = TimeSpan.FromDays(1);

    public AutoscalerConfig Config => config;

    public Plan Decide(ClusterSnapshot snapshot, AutoscalerState state)
    {
        var now = clock.GetUtcNow();
        var decisions = new List<Decision>();
        Housekeep(state, now);
        var workersByLaunch = snapshot.Workers
            .Select(w => (Worker: w, Launch: WorkerIdentity.LaunchIdOf(config.Name, w.Id)))
            .Where(x => x.Launch is not null)
            .GroupBy(x => x.Launch!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Worker).ToList(), StringComparer.Ordinal);
        var listed = snapshot.Instances.GroupBy(i => i.LaunchId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(i => i.State == ProviderInstanceState.Gone).First(), StringComparer.Ordinal);

        ExplainProviderInstances(snapshot, state, workersByLaunch, decisions, now);
        foreach (var record in state.Live.ToList())
            Track(record, listed.GetValueOrDefault(record.LaunchId), workersByLaunch.GetValueOrDefault(record.LaunchId) ?? [], state, decisions, now);
        DrainIdle(state, workersByLaunch, decisions, now);
        LaunchForDemand(snapshot, state, workersByLaunch, decisions, now);
        Report(snapshot, state, workersByLaunch, now);
        return new Plan(decisions);
    }

    /// <summary>An instance no record explains is adopted when its agent has registered, else terminated: nothing leaks.</summary>
    private void ExplainProviderInstances(ClusterSnapshot snapshot, AutoscalerState state, Dictionary<string, List<WorkerView>> workers,
        List<Decision> decisions, DateTimeOffset now)
    {
        var live = state.Live.Select(r => r.LaunchId).ToHashSet(StringComparer.Ordinal);
        // A listing asked for before a record ended shows the instance as it was then: not an orphan.
        var endedSince = snapshot.ListedAt is { } listedAt
            ? state.Instances.Where(r => !r.IsLive && r.EndedAt > listedAt).Select(r => r.LaunchId).ToHashSet(StringComparer.Ordinal)
            : [];
        foreach (var instance in snapshot.Instances.Where(i => i.State != ProviderInstanceState.Gone && !live.Contains(i.LaunchId) && !endedSince.Contains(i.LaunchId)))
        {
            if (workers.TryGetValue(instance.LaunchId, out var its) && its.Count > 0 && config.Resources.TryGetValue(instance.Resource, out var resource)
                && !state.Instances.Any(r => r.LaunchId == instance.LaunchId))
            {
                var market = resource.Markets[0];
                state.Instances.Add(new InstanceRecord
                {
                    LaunchId = instance.LaunchId, InstanceId = instance.InstanceId, Resource = instance.Resource, MachineType = resource.MachineType,
                    Market = market.Market, PriceUsdPerHour = market.PriceUsdPerHour ?? 0, Slots = resource.Slots, Status = InstanceStatus.Ready,
                    LaunchedAt = now, ReadyAt = now, LastBusyAt = now, LastWorkerSeenAt = now, Seen = true, Workers = its.Select(w => w.Id).ToList(),
                });
                decisions.Add(new Decision(DecisionAction.Adopt, Reasons.Adopted, instance.Resource, instance.LaunchId, instance.InstanceId,
                    $"found with {its.Count} registered worker(s) and no record"));
                continue;
            }
            decisions.Add(new Decision(DecisionAction.Terminate, Reasons.Orphan, instance.Resource, instance.LaunchId, instance.InstanceId,
                "tagged by this autoscaler, but no live record or registered worker explains it")
            { Workers = workers.GetValueOrDefault(instance.LaunchId)?.Select(w => w.Id).ToList() ?? [] });
        }
    }

    /// <summary>Brings one live record up to date with what the provider and the server say about it.</summary>
    private void Track(InstanceRecord record, ProviderInstance? instance, List<WorkerView> workers, AutoscalerState state, List<Decision> decisions, DateTimeOffset now)
    {
        if (instance is not null)
        {
            record.Seen = true;
            record.InstanceId ??= instance.InstanceId;
            record.ProviderDetail = instance.State == ProviderInstanceState.Pending ? instance.Detail : null;
        }
        var busy = workers.Where(w => w.Task is not null).ToList();
        if (instance is { State: ProviderInstanceState.Gone, Completed: true } && busy.Count == 0 && OneTaskPerInstance(record.Resource))
        {
            // Its agent ran its task and stopped: a normal end, not a loss (the server ended the task itself).
            End(record, state, decisions, now, InstanceStatus.Terminated, DecisionAction.Terminate, Reasons.TaskEnded,
                $"{instance.Detail ?? "completed"}{(record.RunningTasks.Count > 0 ? $" after its task {string.Join(", ", record.RunningTasks.Values)}" : "")}");
            record.RunningTasks = [];
            return;
        }
        if (busy.Count == 0 && workers.Count > 0 && record.RunningTasks.Count > 0 && OneTaskPerInstance(record.Resource)
            && instance is not { State: ProviderInstanceState.Gone })
        {
            // A one-task pod whose task ended (completed, failed or aborted) is deleted at once, not left to idle.
            End(record, state, decisions, now, InstanceStatus.Terminated, DecisionAction.Terminate, Reasons.TaskEnded,
                $"its task {string.Join(", ", record.RunningTasks.Values)} ended (completed, failed or aborted)");
            record.RunningTasks = [];
            return;
        }
        if (busy.Count > 0)
        {
            record.RunningTasks = busy.ToDictionary(w => w.Id, w => w.Task!, StringComparer.Ordinal);
            record.ProtectedTasks = busy.Where(w => w.DoNotDisrupt).Select(w => w.Task!).ToList();
        }
        else if (workers.Count > 0)
        {
            record.ProtectedTasks = [];
        }
        if (record.ProtectedTasks.Count == 0)
            record.DisruptionHeld = false;
        if (workers.FirstOrDefault(w => w.Interruption is not null) is { } interrupted)
        {
            // Only what its workers still run now: the agent re-queues its own tasks on the notice.
            record.RunningTasks = busy.ToDictionary(w => w.Id, w => w.Task!, StringComparer.Ordinal);
            Interrupt(record, interrupted.Interruption!, state, decisions, now);
            return;
        }
        var gone = instance is { State: ProviderInstanceState.Gone } || (instance is null && record.Seen);
        if (record.Status == InstanceStatus.Draining && busy.Count == 0 && record.RunningTasks.Count == 0 && (gone || (workers.Count == 0 && record.Workers.Count > 0)))
        {
            // A drained agent stops by itself once idle (slipway agent does): the end it was told to make, not a loss.
            End(record, state, decisions, now, InstanceStatus.Terminated, DecisionAction.Terminate, Reasons.Drained,
                gone ? "its agent stopped after draining and the instance ended" : "its agent stopped after draining");
            return;
        }
        if (gone)
        {
            Lose(record, state, decisions, now, Reasons.InstanceGone, instance?.Detail ?? "the provider no longer lists it");
            return;
        }
        if (workers.Count > 0)
        {
            record.LastWorkerSeenAt = now;
            record.Workers = workers.Select(w => w.Id).ToList();
            if (record.IsBooting)
            {
                record.Status = InstanceStatus.Ready;
                record.ReadyAt = now;
                decisions.Add(new Decision(DecisionAction.Ready, Reasons.Registered, record.Resource, record.LaunchId, record.InstanceId,
                    $"agent registered after {(now - record.LaunchedAt).TotalSeconds:0.#} s"));
            }
            if (busy.Count > 0)
            {
                record.LastBusyAt = now;
                if (record.Status == InstanceStatus.Draining)
                {
                    // It took a task in the race between the pass's read and the drain mark: it stays, and serves again.
                    record.Status = InstanceStatus.Ready;
                    record.DrainStartedAt = null;
                    record.DrainSentAt = null;
                    decisions.Add(new Decision(DecisionAction.Undrain, Reasons.TookTask, record.Resource, record.LaunchId, record.InstanceId,
                        "a worker took a task while it drained")
                    { Workers = record.Workers.ToList() });
                }
            }
            else
            {
                record.RunningTasks = [];
            }
            if (record.Status == InstanceStatus.Ready && workers.Where(w => w.Draining).Select(w => w.Id).ToList() is { Count: > 0 } stale)
            {
                // A drain mark the records do not explain (a drain sent just before a restart lost its record): taken off, or
                // the worker would never take work again.
                decisions.Add(new Decision(DecisionAction.Undrain, Reasons.StaleDrain, record.Resource, record.LaunchId, record.InstanceId,
                    "its workers were marked draining, but it is not being drained")
                { Workers = stale });
            }
        }
        else if (record.Status is InstanceStatus.Ready or InstanceStatus.Draining && now - (record.LastWorkerSeenAt ?? record.ReadyAt ?? now) > config.WorkerLost)
        {
            var silent = now - (record.LastWorkerSeenAt ?? record.ReadyAt ?? now);
            if (record.ProtectedTasks.Count > 0 && silent <= config.WorkerLost + config.DrainTimeout)
            {
                // The provider still runs it and its task is tagged do_not_disrupt: the task's own process may well outlive a
                // crashed agent, so the machine gets a drain timeout more before it is given up as lost.
                if (!record.DisruptionHeld)
                {
                    record.DisruptionHeld = true;
                    decisions.Add(new Decision(DecisionAction.Keep, Reasons.DoNotDisrupt, record.Resource, record.LaunchId, record.InstanceId,
                        $"no worker of it has reported for {silent.TotalSeconds:0} s, but its task {string.Join(", ", record.ProtectedTasks)} is tagged "
                        + $"{WorkerView.DoNotDisruptTag}; kept {config.DrainTimeout.TotalSeconds:0} s more")
                    { Tasks = record.ProtectedTasks.ToList() });
                }
                return;
            }
            Lose(record, state, decisions, now, Reasons.WorkerLost, $"no worker of it has reported for {silent.TotalSeconds:0} s");
            return;
        }

        if (record.IsBooting)
        {
            var spotWithFallback = record.Market == Market.Spot
                                   && config.Resources.TryGetValue(record.Resource, out var resource)
                                   && resource.Markets.SkipWhile(m => m.Market != Market.Spot).Skip(1).Any();
            var timeout = spotWithFallback ? TimeSpan.FromTicks(Math.Min(config.SpotFallbackTimeout.Ticks, config.SpinUpTimeout.Ticks)) : config.SpinUpTimeout;
            if (now - record.LaunchedAt > timeout)
            {
                state.Backoffs[record.Offering.Key] = now + config.Backoff;
                End(record, state, decisions, now, InstanceStatus.Terminated, DecisionAction.Terminate, spotWithFallback ? Reasons.SpotFallback : Reasons.SpinUpTimeout,
                    $"no agent registered within {timeout.TotalSeconds:0} s; offering {record.Offering.Key} backed off for {config.Backoff.TotalSeconds:0} s");
            }
        }
        else if (record.Status == InstanceStatus.Draining)
        {
            Recheck(record, workers, state, decisions, now);
        }
    }

    /// <summary>
    /// A draining instance is terminated once every worker of it shows the server's drain mark and none took a task (then no
    /// task can reach it); an unconfirmed drain is sent again; past the drain timeout it is terminated anyway, its tasks
    /// released as a lost instance's are.
    /// </summary>
    private void Recheck(InstanceRecord record, List<WorkerView> workers, AutoscalerState state, List<Decision> decisions, DateTimeOffset now)
    {
        var draining = now - (record.DrainStartedAt ?? now);
        if (draining >= config.DrainTimeout)
        {
            var tasks = record.RunningTasks.Count;
            End(record, state, decisions, now, InstanceStatus.Terminated, DecisionAction.Terminate, Reasons.DrainTimeout,
                $"still not drained {config.DrainTimeout.TotalSeconds:0} s after draining began" + (tasks > 0 ? $"; its {tasks} task(s) released" : ""));
            ReleaseTasks(record, state, decisions, Reasons.DrainTimeout, $"drain timeout of {config.DrainTimeout.TotalSeconds:0} s");
            return;
        }
        if (draining < config.DrainRecheck)
            return;
        if (workers.Count > 0 && workers.All(w => w.Draining && w.Task is null))
        {
            End(record, state, decisions, now, InstanceStatus.Terminated, DecisionAction.Terminate, Reasons.Idle,
                $"still idle {draining.TotalSeconds:0.#} s after draining, its {workers.Count} worker(s) marked draining on the server");
            return;
        }
        if (now - (record.DrainSentAt ?? record.DrainStartedAt ?? now) >= config.DrainRecheck)
        {
            record.DrainSentAt = now;
            decisions.Add(new Decision(DecisionAction.Drain, Reasons.DrainUnconfirmed, record.Resource, record.LaunchId, record.InstanceId,
                "not every worker shows the drain mark yet; sent again")
            { Workers = record.Workers.ToList() });
        }
    }

    /// <summary>The instance is gone or its agent is: its running tasks are re-queued at once (within the retry limit) or failed, naming it.</summary>
    private void Lose(InstanceRecord record, AutoscalerState state, List<Decision> decisions, DateTimeOffset now, string reason, string detail)
    {
        state.Interruptions[record.Resource] = state.Interruptions.GetValueOrDefault(record.Resource) + 1;
        End(record, state, decisions, now, InstanceStatus.Lost, DecisionAction.Lost, reason, detail);
        ReleaseTasks(record, state, decisions, reason, detail);
    }

    /// <summary>
    /// The agent read the provider's interruption notice (it has stopped taking work and re-queued its tasks itself): the
    /// instance is terminated before the provider takes it, the offering backed off so the replacement is sought elsewhere, and
    /// whatever its workers still show running is released as a lost instance's tasks are.
    /// </summary>
    private void Interrupt(InstanceRecord record, string notice, AutoscalerState state, List<Decision> decisions, DateTimeOffset now)
    {
        state.Backoffs[record.Offering.Key] = now + config.Backoff;
        state.Interruptions[record.Resource] = state.Interruptions.GetValueOrDefault(record.Resource) + 1;
        End(record, state, decisions, now, InstanceStatus.Interrupted, DecisionAction.Terminate, Reasons.SpotInterruption,
            $"its agent reported: {notice}; offering {record.Offering.Key} backed off for {config.Backoff.TotalSeconds:0} s");
        ReleaseTasks(record, state, decisions, Reasons.SpotInterruption, notice);
    }

    /// <summary>The tasks an ended instance still ran: re-queued at once (within the retry limit) or failed, naming the instance.</summary>
    private void ReleaseTasks(InstanceRecord record, AutoscalerState state, List<Decision> decisions, string reason, string detail)
    {
        var name = record.InstanceId ?? record.LaunchId;
        foreach (var (worker, task) in record.RunningTasks)
        {
            var count = state.Requeues.GetValueOrDefault(task);
            if (config.RequeueOnLoss && count < config.MaxRequeues)
            {
                state.Requeues[task] = count + 1;
                decisions.Add(new Decision(DecisionAction.RequeueTask, reason, record.Resource, record.LaunchId, record.InstanceId,
                    $"instance {name} was lost ({detail}); re-queued by the autoscaler ({count + 1} of {config.MaxRequeues})")
                { Tasks = [task], Workers = [worker] });
            }
            else
            {
                decisions.Add(new Decision(DecisionAction.FailTask, reason, record.Resource, record.LaunchId, record.InstanceId,
                    $"instance {name} was lost ({detail})" + (config.RequeueOnLoss ? $"; re-queued {count} times already" : ""))
                { Tasks = [task], Workers = [worker] });
            }
        }
        record.RunningTasks = [];
    }

    private static void End(InstanceRecord record, AutoscalerState state, List<Decision> decisions, DateTimeOffset now,
        InstanceStatus status, DecisionAction action, string reason, string detail)
    {
        record.Status = status;
        record.EndedAt = now;
        record.EndReason = reason;
        state.SpentUsd += record.SpentUsd(now);
        decisions.Add(new Decision(action, reason, record.Resource, record.LaunchId, record.InstanceId, detail) { Workers = record.Workers.ToList() });
    }

    /// <summary>
    /// A ready instance idle past the timeout is drained (no longer counted as capacity), never below the resource's minimum,
    /// and no more at once than its disruption budget allows (those already draining count against it).
    /// </summary>
    private void DrainIdle(AutoscalerState state, Dictionary<string, List<WorkerView>> workers, List<Decision> decisions, DateTimeOffset now)
    {
        foreach (var group in state.Live.GroupBy(r => r.Resource))
        {
            var min = config.Resources.TryGetValue(group.Key, out var resource) ? resource.MinInstances : 0;
            var kept = group.Count(r => r.Status != InstanceStatus.Draining);
            var disrupting = group.Count(r => r.Status == InstanceStatus.Draining);
            var allowed = resource?.MaxDisruptions?.Allowed(group.Count()) ?? int.MaxValue;
            var idle = group
                .Where(r => r.Status == InstanceStatus.Ready && r.RunningTasks.Count == 0
                            && workers.GetValueOrDefault(r.LaunchId)?.All(w => w.Task is null) != false
                            && now - Max(r.ReadyAt, r.LastBusyAt) > config.IdleTimeout)
                .OrderBy(r => Max(r.ReadyAt, r.LastBusyAt));
            foreach (var record in idle)
            {
                if (kept <= min || disrupting >= allowed)
                    break;
                disrupting++;
                record.Status = InstanceStatus.Draining;
                record.DrainStartedAt = now;
                record.DrainSentAt = now;
                kept--;
                decisions.Add(new Decision(DecisionAction.Drain, Reasons.Idle, record.Resource, record.LaunchId, record.InstanceId,
                    $"idle for {(now - Max(record.ReadyAt, record.LastBusyAt)).TotalSeconds:0} s")
                { Workers = record.Workers.ToList() });
            }
        }
    }

    /// <summary>
    /// need(queue) = waiting tasks − idle slots − booting slots of the resources serving it, so a burst of 3 never starts 5;
    /// launches are then clamped by each resource's max, the global max, the launches in flight and the budget.
    /// </summary>
    private void LaunchForDemand(ClusterSnapshot snapshot, AutoscalerState state, Dictionary<string, List<WorkerView>> workers, List<Decision> decisions, DateTimeOffset now)
    {
        var live = state.Live.ToList();
        var liveCount = live.GroupBy(r => r.Resource).ToDictionary(g => g.Key, g => g.Count());
        var spare = new Dictionary<string, int>();
        foreach (var record in live)
        {
            var slots = record.Status switch
            {
                InstanceStatus.Requested or InstanceStatus.Booting => record.Slots,
                InstanceStatus.Ready => Math.Max(0, record.Slots - (workers.GetValueOrDefault(record.LaunchId)?.Count(w => w.Task is not null) ?? 0)),
                _ => 0,
            };
            spare[record.Resource] = spare.GetValueOrDefault(record.Resource) + slots;
        }
        var budget = new Spend(live.Sum(r => r.PriceUsdPerHour), state.SpentUsd + live.Sum(r => r.SpentUsd(now)));
        var inFlight = live.Count(r => r.IsBooting);
        var total = live.Count;
        var stillHeld = new HashSet<string>(StringComparer.Ordinal);

        foreach (var (queue, resources) in config.Queues)
        {
            var waiting = snapshot.QueuedTasks.GetValueOrDefault(queue) ?? [];
            var need = waiting.Count;
            foreach (var name in resources)
            {
                var take = Math.Min(spare.GetValueOrDefault(name), need);
                spare[name] = spare.GetValueOrDefault(name) - take;
                need -= take;
            }
            (string Reason, string Message)? heldBecause = null;
            foreach (var name in resources)
            {
                var resource = config.Resources[name];
                while (need > 0)
                {
                    if (Launch(name, resource, Reasons.Demand, $"{need} task(s) waiting in {queue} beyond idle and booting slots") is null)
                        break;
                    need -= resource.Slots;
                }
                if (need < 0)
                {
                    spare[name] = spare.GetValueOrDefault(name) - need;
                    need = 0;
                }
            }
            if (need > 0 && heldBecause is { } held)
            {
                foreach (var task in waiting.Skip(waiting.Count - need))
                {
                    stillHeld.Add(task);
                    Hold(task, held.Reason, resources[0], held.Message);
                }
            }

            // Tasks waiting on a launched instance that the provider cannot start (a pod unschedulable, its image not
            // pulled) say so in their status message, as budget holds do.
            var blocked = live.Where(r => r.IsBooting && r.ProviderDetail is not null && resources.Contains(r.Resource)).ToList();
            using var unheld = waiting.Where(t => !stillHeld.Contains(t)).GetEnumerator();
            foreach (var record in blocked)
            {
                for (var slot = 0; slot < record.Slots && unheld.MoveNext(); slot++)
                {
                    stillHeld.Add(unheld.Current);
                    Hold(unheld.Current, Reasons.InstancePending, record.Resource, $"{record.ProviderDetail}; waiting for instance {record.InstanceId ?? record.LaunchId} of {record.Resource}");
                }
            }

            // One launch, clamped; null (with the reason noted) when a limit stops it.
            string? Launch(string name, ResourceConfig resource, string reason, string detail)
            {
                if (liveCount.GetValueOrDefault(name) >= resource.MaxInstances || total >= config.MaxInstances || inFlight >= config.MaxLaunchesInFlight)
                    return null;
                if (Choose(resource, state, now) is not { } choice)
                    return null;
                if (budget.Refuses(config.Budget, choice.Price) is { } refusal)
                {
                    heldBecause ??= (refusal.StartsWith("budget: hourly", StringComparison.Ordinal) ? Reasons.BudgetHourly : Reasons.BudgetMonthly, refusal);
                    return null;
                }
                if (OneTaskPerInstance(name) && config.Kubernetes?.MaxPodsPerQueue.TryGetValue(queue, out var cap) == true
                    && state.Live.Count(r => OneTaskPerInstance(r.Resource) && resources.Contains(r.Resource)) >= cap)
                {
                    heldBecause ??= (Reasons.MaxPods, $"kubernetes: max_pods_per_queue {cap} for queue {queue} reached; waiting for a pod to end");
                    return null;
                }
                return AddInstance(name, resource, choice, reason, $"{detail}; offering {choice.Offering.Key} at ${choice.Price:0.###}/h");
            }
        }

        foreach (var (name, resource) in config.Resources)
        {
            while (liveCount.GetValueOrDefault(name) < resource.MinInstances && total < config.MaxInstances && inFlight < config.MaxLaunchesInFlight
                   && Choose(resource, state, now) is { } choice && budget.Refuses(config.Budget, choice.Price) is null)
            {
                AddInstance(name, resource, choice, Reasons.MinInstances, $"below min_instances {resource.MinInstances}");
            }
        }

        // Records a launch decided above (the provider is called after the state is saved) and counts it against the limits.
        string AddInstance(string name, ResourceConfig resource, (Offering Offering, decimal Price) choice, string reason, string detail)
        {
            var record = new InstanceRecord
            {
                LaunchId = Guid.NewGuid().ToString("N")[..10], Resource = name, MachineType = resource.MachineType, Zone = choice.Offering.Zone,
                Market = choice.Offering.Market, PriceUsdPerHour = choice.Price, Slots = resource.Slots, Status = InstanceStatus.Requested, LaunchedAt = now,
            };
            state.Instances.Add(record);
            liveCount[name] = liveCount.GetValueOrDefault(name) + 1;
            total++;
            inFlight++;
            budget = budget.With(choice.Price);
            decisions.Add(new Decision(DecisionAction.Launch, reason, name, record.LaunchId, Detail: detail));
            return record.LaunchId;
        }
        foreach (var task in state.Held.Keys.Where(t => !stillHeld.Contains(t)).ToList())
            state.Held.Remove(task);
        EndSurplusPods(state, spare, decisions, now);

        // The task's status message is set once per reason, not at every pass.
        void Hold(string task, string reason, string resource, string message)
        {
            stillHeld.Add(task);
            if (state.Held.GetValueOrDefault(task) == message)
                return;
            state.Held[task] = message;
            decisions.Add(new Decision(DecisionAction.Hold, reason, resource, Detail: message) { Tasks = [task] });
        }
    }

    /// <summary>A resource whose instances each run one task (a Kubernetes pod): ended and surplus ones are deleted, not drained.</summary>
    private bool OneTaskPerInstance(string resource) =>
        config.Resources.TryGetValue(resource, out var r) && r.Provider == KubernetesProviderConfig.ProviderName;

    /// <summary>
    /// Booting one-task instances that no waiting task needs (it was aborted, or another worker took it) are deleted once
    /// that has lasted a drain recheck (a queue read between an agent's pop and its report is not taken for it), above min.
    /// </summary>
    private void EndSurplusPods(AutoscalerState state, Dictionary<string, int> spare, List<Decision> decisions, DateTimeOffset now)
    {
        foreach (var group in state.Live.Where(r => OneTaskPerInstance(r.Resource)).GroupBy(r => r.Resource).ToList())
        {
            var min = config.Resources[group.Key].MinInstances;
            var surplus = Math.Max(0, spare.GetValueOrDefault(group.Key));
            var kept = group.Count();
            var booting = group.Where(r => r.Status == InstanceStatus.Booting).OrderByDescending(r => r.LaunchedAt).ToList();
            foreach (var record in booting)
            {
                if (surplus <= 0 || kept <= min)
                {
                    record.SurplusSince = null;
                    continue;
                }
                surplus -= record.Slots;
                record.SurplusSince ??= now;
                if (now - record.SurplusSince < config.DrainRecheck)
                    continue;
                kept--;
                End(record, state, decisions, now, InstanceStatus.Terminated, DecisionAction.Terminate, Reasons.DemandGone,
                    "no waiting task needs it any more (its task was aborted or taken by another worker)");
            }
        }
    }

    /// <summary>The first offering of the resource's ordered markets and zones that is not backed off.</summary>
    private (Offering Offering, decimal Price)? Choose(ResourceConfig resource, AutoscalerState state, DateTimeOffset now)
    {
        foreach (var market in resource.Markets)
        {
            // An EC2 market without zones of its own tries the provider's subnets, each an offering of its own.
            var zones = market.Zones.Count > 0 ? market.Zones
                : resource.Provider == Ec2Provider.ProviderName && config.Ec2?.Subnets is { Count: > 0 } subnets ? subnets : [];
            foreach (var zone in zones.Count > 0 ? zones.Select(z => (string?)z) : [null])
            {
                var offering = new Offering(resource.MachineType, zone, market.Market);
                if (state.Backoffs.TryGetValue(offering.Key, out var until) && until > now)
                    continue;
                return (offering, market.PriceUsdPerHour ?? 0);
            }
        }
        return null;
    }

    /// <summary>The provider answered a launch: the instance is booting.</summary>
    public static void Launched(AutoscalerState state, string launchId, string instanceId)
    {
        if (state.Instances.FirstOrDefault(r => r.LaunchId == launchId) is { Status: InstanceStatus.Requested } record)
        {
            record.InstanceId = instanceId;
            record.Status = InstanceStatus.Booting;
        }
    }

    /// <summary>The provider refused a launch: the offering is backed off (so the next pass tries the next one) and the failure logged.</summary>
    public Decision LaunchFailed(AutoscalerState state, string launchId, bool capacity, string error)
    {
        var now = clock.GetUtcNow();
        var record = state.Instances.First(r => r.LaunchId == launchId);
        state.Backoffs[record.Offering.Key] = now + config.Backoff;
        record.Status = InstanceStatus.LaunchFailed;
        record.EndedAt = now;
        record.EndReason = capacity ? Reasons.CapacityError : Reasons.ProviderError;
        state.LaunchFailures[record.Resource] = state.LaunchFailures.GetValueOrDefault(record.Resource) + 1;
        return new Decision(DecisionAction.LaunchFailed, record.EndReason, record.Resource, launchId,
            Detail: $"{error}; offering {record.Offering.Key} backed off for {config.Backoff.TotalSeconds:0} s");
    }

    /// <summary>What the page and /metrics read: each resource's limits and wish, and a queue-versus-capacity sample a minute.</summary>
    private void Report(ClusterSnapshot snapshot, AutoscalerState state, Dictionary<string, List<WorkerView>> workers, DateTimeOffset now)
    {
        state.Resources = config.Resources.ToDictionary(r => r.Key, r => new ResourceStatus
        {
            Provider = r.Value.Provider, MachineType = r.Value.MachineType, Slots = r.Value.Slots, MinInstances = r.Value.MinInstances,
            MaxInstances = r.Value.MaxInstances, Desired = state.Live.Count(i => i.Resource == r.Key && i.Status != InstanceStatus.Draining),
        });
        if (state.History.Count > 0 && now - state.History[^1].At < AutoscalerState.HistoryInterval)
            return;
        var live = state.Live.ToList();
        state.History.Add(new CapacitySample
        {
            At = now,
            Queued = config.Queues.Keys.ToDictionary(q => q, q => snapshot.QueuedTasks.GetValueOrDefault(q)?.Count ?? 0),
            ReadySlots = live.Where(r => r.Status is InstanceStatus.Ready or InstanceStatus.Draining).Sum(r => r.Slots),
            BusySlots = live.Sum(r => workers.GetValueOrDefault(r.LaunchId)?.Count(w => w.Task is not null) ?? 0),
            BootingSlots = live.Where(r => r.IsBooting).Sum(r => r.Slots),
        });
        if (state.History.Count > AutoscalerState.HistoryLength)
            state.History.RemoveRange(0, state.History.Count - AutoscalerState.HistoryLength);
    }

    private static void Housekeep(AutoscalerState state, DateTimeOffset now)
    {
        var month = now.UtcDateTime.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
        if (state.Month != month)
        {
            // Instances running across the turn of the month count wholly in the new one: it errs towards spending less.
            state.Month = month;
            state.SpentUsd = 0;
        }
        state.Instances.RemoveAll(r => !r.IsLive && now - r.EndedAt > EndedRecordRetention);
        foreach (var key in state.Backoffs.Where(b => b.Value <= now).Select(b => b.Key).ToList())
            state.Backoffs.Remove(key);
    }

    private static DateTimeOffset Max(DateTimeOffset? a, DateTimeOffset? b) =>
        (a ?? DateTimeOffset.MinValue) > (b ?? DateTimeOffset.MinValue) ? a ?? DateTimeOffset.MinValue : b ?? DateTimeOffset.MinValue;

    /// <summary>The burn rate of live instances and the month's spend so far; a launch must keep both under their caps.</summary>
    private readonly record struct Spend(decimal UsdPerHour, decimal MonthUsd)
    {
        public Spend With(decimal price) => this with { UsdPerHour = UsdPerHour + price };

        /// <summary>Why a launch at <paramref name="price"/> is refused, or null. The month's projection adds one hour of the new instance.</summary>
        public string? Refuses(BudgetConfig? budget, decimal price)
        {
            if (budget?.MaxUsdPerHour is { } hourly && UsdPerHour + price > hourly)
                return $"budget: hourly cap ${hourly:0.##}/h reached (${UsdPerHour:0.##}/h running, the next instance costs ${price:0.##}/h); waiting for spend to allow a launch";
            if (budget?.MaxUsdPerMonth is { } monthly && MonthUsd + price > monthly)
                return $"budget: monthly cap ${monthly:0.##} reached (${MonthUsd:0.##} spent this month); waiting for spend to allow a launch";
            return null;
        }
    }
}
