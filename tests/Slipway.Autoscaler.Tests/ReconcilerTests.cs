namespace Slipway.Autoscaler.Tests;

/// <summary>The policy on hand-made snapshots: what a user would check in the decision log.</summary>
public sealed class ReconcilerTests
{
    private readonly FakeClock _clock = new();
    private readonly AutoscalerState _state = new();

    private static AutoscalerConfig Config(Action<AutoscalerConfig>? change = null, int max = 10, int slots = 1)
    {
        var config = new AutoscalerConfig
        {
            Name = "as1",
            MaxInstances = 50,
            MaxLaunchesInFlight = 50,
            IdleTimeoutSeconds = 60,
            DrainRecheckSeconds = 5,
            SpinUpTimeoutSeconds = 300,
            SpotFallbackTimeoutSeconds = 120,
            BackoffSeconds = 180,
        };
        config.Queues["gpu"] = ["small"];
        config.Resources["small"] = new ResourceConfig { Provider = "local", MachineType = "t1", MaxInstances = max, Slots = slots };
        change?.Invoke(config);
        return config;
    }

    private static ClusterSnapshot Snapshot(int waiting, IEnumerable<WorkerView>? workers = null, IEnumerable<ProviderInstance>? instances = null, string queue = "gpu") =>
        new(new Dictionary<string, IReadOnlyList<string>> { [queue] = Enumerable.Range(0, waiting).Select(i => $"task{i}").ToList() },
            workers?.ToList() ?? [], instances?.ToList() ?? []);

    private static ProviderInstance Running(InstanceRecord r) => new("i-" + r.LaunchId, r.LaunchId, r.Resource, ProviderInstanceState.Running);

    private static WorkerView Worker(InstanceRecord r, int slot = 0, string? task = null) => new($"as1:{r.Resource}:{r.LaunchId}:cpu:{slot}", task);

    private Reconciler Reconciler(AutoscalerConfig config) => new(config, _clock);

    /// <summary>Launches what the plan asks for and has the provider answer with an instance id.</summary>
    private List<InstanceRecord> LaunchAll(Reconciler reconciler, Plan plan)
    {
        var launched = new List<InstanceRecord>();
        foreach (var launch in plan.Launches)
        {
            Slipway.Autoscaler.Reconciler.Launched(_state, launch.LaunchId!, "i-" + launch.LaunchId);
            launched.Add(_state.Instances.Single(r => r.LaunchId == launch.LaunchId));
        }
        return launched;
    }

    [Fact]
    public void A_burst_of_three_tasks_starts_three_instances_and_booting_ones_count_as_capacity()
    {
        var reconciler = Reconciler(Config());
        var plan = reconciler.Decide(Snapshot(3), _state);
        Assert.Equal(3, plan.Launches.Count());
        Assert.All(plan.Launches, d => Assert.Equal(Reasons.Demand, d.Reason));
        var booting = LaunchAll(reconciler, plan);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(reconciler.Decide(Snapshot(3, instances: booting.Select(Running)), _state).Launches);

        // Two more arrive: only two more launches.
        Assert.Equal(2, reconciler.Decide(Snapshot(5, instances: booting.Select(Running)), _state).Launches.Count());
    }

    [Fact]
    public void Idle_slots_are_subtracted_and_multi_slot_instances_are_rounded_up()
    {
        var reconciler = Reconciler(Config(slots: 4));
        var plan = reconciler.Decide(Snapshot(5), _state);
        Assert.Equal(2, plan.Launches.Count()); // 5 tasks on 4-slot machines: 2, not 5
        var instances = LaunchAll(reconciler, plan);
        _clock.Advance(TimeSpan.FromSeconds(10));
        var workers = instances.SelectMany(r => Enumerable.Range(0, 4).Select(s => Worker(r, s, s == 0 ? "busy" : null))).ToList();
        // 2 busy slots, 6 idle ones: 6 waiting tasks need nothing more, 7 need one more instance.
        Assert.Empty(reconciler.Decide(Snapshot(6, workers, instances.Select(Running)), _state).Launches);
        Assert.Single(reconciler.Decide(Snapshot(7, workers, instances.Select(Running)), _state).Launches);
    }

    [Fact]
    public void Launches_stop_at_the_resource_max_the_global_max_and_the_launches_in_flight()
    {
        Assert.Equal(3, Reconciler(Config(max: 3)).Decide(Snapshot(10), new AutoscalerState()).Launches.Count());
        Assert.Equal(4, Reconciler(Config(c => c.MaxInstances = 4)).Decide(Snapshot(10), new AutoscalerState()).Launches.Count());
        Assert.Equal(2, Reconciler(Config(c => c.MaxLaunchesInFlight = 2)).Decide(Snapshot(10), new AutoscalerState()).Launches.Count());
    }

    [Fact]
    public void An_idle_instance_is_drained_rechecked_then_terminated_with_its_workers_never_below_min()
    {
        var config = Config(c => c.Resources["small"].MinInstances = 1);
        var reconciler = Reconciler(config);
        var instances = LaunchAll(reconciler, reconciler.Decide(Snapshot(2), _state));
        var workers = instances.Select(r => Worker(r)).ToList();
        var listed = instances.Select(Running).ToList();
        Assert.Equal(2, reconciler.Decide(Snapshot(0, workers, listed), _state).Decisions.Count(d => d.Action == DecisionAction.Ready));

        _clock.Advance(TimeSpan.FromSeconds(61));
        var drained = reconciler.Decide(Snapshot(0, workers, listed), _state).Decisions.Where(d => d.Action == DecisionAction.Drain).ToList();
        Assert.Single(drained); // the other one is kept: min_instances 1
        Assert.Equal([$"as1:small:{drained[0].LaunchId}:cpu:0"], drained[0].Workers); // the workers the server is to mark

        // The server shows the drain mark: at the recheck nothing can reach it any more.
        workers = workers.Select(w => w with { Draining = w.Id.Contains(drained[0].LaunchId!, StringComparison.Ordinal) }).ToList();
        _clock.Advance(TimeSpan.FromSeconds(5));
        var terminate = Assert.Single(reconciler.Decide(Snapshot(0, workers, listed), _state).Decisions, d => d.Action == DecisionAction.Terminate);
        Assert.Equal(Reasons.Idle, terminate.Reason);
        Assert.Equal(drained[0].LaunchId, terminate.LaunchId);
        Assert.Equal([$"as1:small:{terminate.LaunchId}:cpu:0"], terminate.Workers);
        Assert.Single(_state.Live);
    }

    [Fact]
    public void A_drained_instance_whose_worker_takes_a_task_is_not_terminated()
    {
        var reconciler = Reconciler(Config());
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state);
        _clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Contains(reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state).Decisions, d => d.Action == DecisionAction.Drain);
        _clock.Advance(TimeSpan.FromSeconds(2));
        var plan = reconciler.Decide(Snapshot(0, [Worker(instance, task: "t9") with { Draining = true }], [Running(instance)]), _state);
        var undrain = Assert.Single(plan.Decisions, d => d.Action == DecisionAction.Undrain && d.Reason == Reasons.TookTask);
        Assert.Equal([Worker(instance).Id], undrain.Workers); // the server takes the mark off, so the agent serves on
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(reconciler.Decide(Snapshot(0, [Worker(instance, task: "t9")], [Running(instance)]), _state).Decisions,
            d => d.Action == DecisionAction.Terminate);
    }

    /// <summary>A ready instance, idle past the timeout and drained at the returned moment.</summary>
    private InstanceRecord Drained(Reconciler reconciler)
    {
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state);
        _clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Contains(reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state).Decisions, d => d.Action == DecisionAction.Drain);
        return instance;
    }

    [Fact]
    public void An_unconfirmed_drain_is_sent_again_at_each_recheck_and_the_drain_timeout_terminates_anyway_releasing_its_task()
    {
        var reconciler = Reconciler(Config(c => c.DrainTimeoutSeconds = 30));
        var instance = Drained(reconciler);
        _clock.Advance(TimeSpan.FromSeconds(5));
        // The server does not show the mark (the drain call failed): not terminated, sent again.
        var plan = reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state);
        Assert.DoesNotContain(plan.Decisions, d => d.Action == DecisionAction.Terminate);
        Assert.Equal([Worker(instance).Id], Assert.Single(plan.Decisions, d => d.Action == DecisionAction.Drain && d.Reason == Reasons.DrainUnconfirmed).Workers);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state).Decisions); // not every pass

        // Its agent went silent holding a task it took in the race (the record knows it), sooner than worker_lost_seconds:
        // at the timeout the task is released by the lost-instance rules.
        _state.Live.Single().RunningTasks[Worker(instance).Id] = "t7";
        _clock.Advance(TimeSpan.FromSeconds(25));
        plan = reconciler.Decide(Snapshot(0, [], [Running(instance)]), _state);
        var terminate = Assert.Single(plan.Decisions, d => d.Action == DecisionAction.Terminate);
        Assert.Equal(Reasons.DrainTimeout, terminate.Reason);
        var requeue = Assert.Single(plan.Decisions, d => d.Action == DecisionAction.RequeueTask);
        Assert.Equal(["t7"], requeue.Tasks);
        Assert.Empty(_state.Live);
        Assert.Equal(InstanceStatus.Terminated, _state.Instances.Single().Status);
    }

    [Fact]
    public void A_drained_agent_that_stops_by_itself_ends_its_instance_as_drained_not_lost()
    {
        var reconciler = Reconciler(Config());
        var instance = Drained(reconciler);
        _clock.Advance(TimeSpan.FromSeconds(1));
        // The agent read the mark, unregistered its worker and exited; the provider shows the instance ended.
        var plan = reconciler.Decide(Snapshot(0, [], [Running(instance) with { State = ProviderInstanceState.Gone }]), _state);
        var terminate = Assert.Single(plan.Decisions);
        Assert.Equal((DecisionAction.Terminate, Reasons.Drained), (terminate.Action, terminate.Reason));
        Assert.Empty(_state.Interruptions);
    }

    [Fact]
    public void A_drain_mark_no_record_explains_is_taken_off()
    {
        var reconciler = Reconciler(Config());
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(1, [Worker(instance)], [Running(instance)]), _state);
        var plan = reconciler.Decide(Snapshot(1, [Worker(instance) with { Draining = true }], [Running(instance)]), _state);
        var undrain = Assert.Single(plan.Decisions, d => d.Action == DecisionAction.Undrain);
        Assert.Equal(Reasons.StaleDrain, undrain.Reason);
        Assert.Equal([Worker(instance).Id], undrain.Workers);
    }

    [Theory]
    [InlineData("2", new[] { 2, 2, 1 })]
    [InlineData("\"20%\"", new[] { 1, 1, 1, 1, 1 })] // 20% of 5 is 1; then of 4, 3, 2, 1: rounded up, still 1
    [InlineData("\"50%\"", new[] { 3, 1, 1 })] // 50% of 5, rounded up; then of 2, then of 1
    public void Idle_scale_down_goes_in_waves_no_larger_than_the_disruption_budget(string budget, int[] waves)
    {
        var config = Config(c => c.Resources["small"].MaxDisruptions = AutoscalerConfig.Parse(
            $$"""{ "resources": { "r": { "max_disruptions": {{budget}} } } }""").Resources["r"].MaxDisruptions);
        var reconciler = Reconciler(config);
        var instances = LaunchAll(reconciler, reconciler.Decide(Snapshot(5), _state));
        reconciler.Decide(Snapshot(0, instances.Select(r => Worker(r)), instances.Select(Running)), _state);
        _clock.Advance(TimeSpan.FromSeconds(61));
        var seen = new List<int>();
        for (var pass = 0; pass < 10 && _state.Live.Any(); pass++)
        {
            // The server shows the drain mark of every instance being drained.
            var draining = _state.Live.Where(r => r.Status == InstanceStatus.Draining).Select(r => r.LaunchId).ToHashSet();
            var live = _state.Live.ToList();
            var plan = reconciler.Decide(Snapshot(0, live.Select(r => Worker(r) with { Draining = draining.Contains(r.LaunchId) }), live.Select(Running)), _state);
            if (plan.Decisions.Count(d => d.Action == DecisionAction.Drain) is > 0 and var drains)
                seen.Add(drains);
            Assert.InRange(_state.Live.Count(r => r.Status == InstanceStatus.Draining), 0, waves.Max());
            _clock.Advance(TimeSpan.FromSeconds(5));
        }
        Assert.Equal(waves, seen);
        Assert.Empty(_state.Live);
    }

    [Fact]
    public void A_reported_spot_interruption_terminates_the_instance_as_interrupted_backs_off_its_offering_and_replaces_it_on_demand()
    {
        var reconciler = Reconciler(Config(c => c.Resources["small"].Markets =
        [
            new MarketConfig { Market = Market.Spot, PriceUsdPerHour = 0.3m },
            new MarketConfig { Market = Market.OnDemand, PriceUsdPerHour = 1m },
        ], slots: 2));
        var spot = LaunchAll(reconciler, reconciler.Decide(Snapshot(2), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(spot, 0, "t1"), Worker(spot, 1, "t2")], [Running(spot)]), _state);

        // Slot 0's agent re-queued its task and reports the notice; slot 1 still shows its task (its re-queue is not through yet).
        const string notice = "spot interruption notice: EC2 will terminate this instance at 2026-12-04T22:10:00Z";
        var plan = reconciler.Decide(Snapshot(1, [Worker(spot, 0) with { Interruption = notice }, Worker(spot, 1, "t2")], [Running(spot)]), _state);
        var terminate = Assert.Single(plan.Decisions, d => d.Action == DecisionAction.Terminate);
        Assert.Equal(Reasons.SpotInterruption, terminate.Reason);
        Assert.Contains(notice, terminate.Detail, StringComparison.Ordinal);
        Assert.Equal(InstanceStatus.Interrupted, _state.Instances.Single(r => r.LaunchId == spot.LaunchId).Status);
        Assert.Equal(1, _state.Interruptions["small"]);
        Assert.Contains(_state.Backoffs, b => b.Key == spot.Offering.Key);
        // Only the task a worker still shows is released; the agent's own re-queue is not repeated.
        Assert.Equal(["t2"], Assert.Single(plan.Decisions, d => d.Action == DecisionAction.RequeueTask).Tasks);
        // The waiting task gets a replacement, on demand while spot is backed off.
        var next = Assert.Single(plan.Launches);
        Assert.Equal(Market.OnDemand, _state.Instances.Single(r => r.LaunchId == next.LaunchId).Market);
    }

    [Fact]
    public void A_spot_instance_that_never_registers_is_terminated_and_the_next_launch_falls_back_to_on_demand()
    {
        var reconciler = Reconciler(Config(c => c.Resources["small"].Markets =
        [
            new MarketConfig { Market = Market.Spot, PriceUsdPerHour = 0.3m },
            new MarketConfig { Market = Market.OnDemand, PriceUsdPerHour = 1m },
        ]));
        var spot = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        Assert.Equal(Market.Spot, spot.Market);

        _clock.Advance(TimeSpan.FromSeconds(121));
        var plan = reconciler.Decide(Snapshot(1, instances: [Running(spot)]), _state);
        var terminate = Assert.Single(plan.Decisions, d => d.Action == DecisionAction.Terminate);
        Assert.Equal(Reasons.SpotFallback, terminate.Reason);
        var next = Assert.Single(plan.Launches);
        Assert.Equal(Market.OnDemand, _state.Instances.Single(r => r.LaunchId == next.LaunchId).Market);

        // Once the back-off has passed, spot is tried again.
        _clock.Advance(TimeSpan.FromSeconds(181));
        var later = new AutoscalerState { Backoffs = _state.Backoffs };
        var again = Assert.Single(reconciler.Decide(Snapshot(1), later).Launches);
        Assert.Equal(Market.Spot, later.Instances.Single(r => r.LaunchId == again.LaunchId).Market);
    }

    [Fact]
    public void An_on_demand_instance_past_the_spin_up_timeout_is_terminated_and_its_offering_backed_off()
    {
        var reconciler = Reconciler(Config(c => c.Resources["small"].Markets = [new MarketConfig { Zones = ["a", "b"] }]));
        var first = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        Assert.Equal("a", first.Zone);
        _clock.Advance(TimeSpan.FromSeconds(301));
        var plan = reconciler.Decide(Snapshot(1, instances: [Running(first)]), _state);
        Assert.Contains(plan.Decisions, d => d.Action == DecisionAction.Terminate && d.Reason == Reasons.SpinUpTimeout);
        Assert.Equal("b", _state.Instances.Single(r => r.LaunchId == Assert.Single(plan.Launches).LaunchId).Zone);
    }

    [Fact]
    public void A_capacity_error_backs_off_the_offering_and_the_next_pass_tries_the_next_zone()
    {
        var reconciler = Reconciler(Config(c => c.Resources["small"].Markets = [new MarketConfig { Zones = ["a", "b"] }]));
        var launch = Assert.Single(reconciler.Decide(Snapshot(1), _state).Launches);
        var failed = reconciler.LaunchFailed(_state, launch.LaunchId!, capacity: true, "InsufficientInstanceCapacity");
        Assert.Equal(Reasons.CapacityError, failed.Reason);
        var retry = Assert.Single(reconciler.Decide(Snapshot(1), _state).Launches);
        Assert.Equal("b", _state.Instances.Single(r => r.LaunchId == retry.LaunchId).Zone);
    }

    [Fact]
    public void The_hourly_budget_stops_launches_and_the_held_tasks_say_why_until_spend_allows()
    {
        var reconciler = Reconciler(Config(c =>
        {
            c.Budget = new BudgetConfig { MaxUsdPerHour = 2.5m };
            c.Resources["small"].Markets = [new MarketConfig { PriceUsdPerHour = 1m }];
        }));
        var plan = reconciler.Decide(Snapshot(5), _state);
        Assert.Equal(2, plan.Launches.Count());
        var holds = plan.Decisions.Where(d => d.Action == DecisionAction.Hold).ToList();
        Assert.Equal(["task2", "task3", "task4"], holds.SelectMany(h => h.Tasks));
        Assert.All(holds, h => Assert.StartsWith("budget: hourly cap $2.5/h reached", h.Detail, StringComparison.Ordinal));
        var instances = LaunchAll(reconciler, plan);

        // The message is set once, not at every pass.
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(reconciler.Decide(Snapshot(5, instances: instances.Select(Running)), _state).Decisions, d => d.Action == DecisionAction.Hold);

        // One instance ends: one more launch is allowed.
        _state.Instances[0].Status = InstanceStatus.Terminated;
        _state.Instances[0].EndedAt = _clock.GetUtcNow();
        Assert.Single(reconciler.Decide(Snapshot(5, instances: instances.Skip(1).Select(Running)), _state).Launches);
    }

    [Fact]
    public void The_monthly_budget_counts_accumulated_instance_hours()
    {
        var reconciler = Reconciler(Config(c =>
        {
            c.Budget = new BudgetConfig { MaxUsdPerMonth = 10m };
            c.Resources["small"].Markets = [new MarketConfig { PriceUsdPerHour = 1m }];
        }));
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(instance, task: "x")], [Running(instance)]), _state);
        _clock.Advance(TimeSpan.FromHours(9.5)); // $9.50 spent: a new instance's first hour would pass $10
        var plan = reconciler.Decide(Snapshot(1, [Worker(instance, task: "x")], [Running(instance)]), _state);
        Assert.Empty(plan.Launches);
        Assert.Contains(plan.Decisions, d => d.Action == DecisionAction.Hold && d.Reason == Reasons.BudgetMonthly);
    }

    [Fact]
    public void A_lost_instance_has_its_running_task_requeued_at_once_up_to_the_retry_limit_then_failed_naming_it()
    {
        var reconciler = Reconciler(Config(c => c.MaxRequeues = 1));
        for (var round = 0; round < 2; round++)
        {
            var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
            reconciler.Decide(Snapshot(0, [Worker(instance, task: "t1")], [Running(instance)]), _state);
            _clock.Advance(TimeSpan.FromSeconds(1));
            var plan = reconciler.Decide(Snapshot(0, [Worker(instance, task: "t1")], [Running(instance) with { State = ProviderInstanceState.Gone }]), _state);
            Assert.Contains(plan.Decisions, d => d.Action == DecisionAction.Lost && d.Reason == Reasons.InstanceGone);
            var release = Assert.Single(plan.Decisions, d => d.Action is DecisionAction.RequeueTask or DecisionAction.FailTask);
            Assert.Equal(["t1"], release.Tasks);
            Assert.Equal(round == 0 ? DecisionAction.RequeueTask : DecisionAction.FailTask, release.Action);
            Assert.Contains($"instance i-{instance.LaunchId} was lost", release.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void With_requeue_off_a_lost_instance_fails_its_task()
    {
        var reconciler = Reconciler(Config(c => c.RequeueOnLoss = false));
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(instance, task: "t1")], [Running(instance)]), _state);
        var plan = reconciler.Decide(Snapshot(0, [Worker(instance, task: "t1")], []), _state); // no longer listed
        Assert.Equal(DecisionAction.FailTask, Assert.Single(plan.Decisions, d => d.Tasks.Count > 0).Action);
    }

    [Fact]
    public void An_instance_terminated_after_its_listing_was_asked_for_is_no_orphan_until_a_later_listing_still_shows_it()
    {
        var reconciler = Reconciler(Config(c => c.IdleTimeoutSeconds = 1));
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Contains(reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state).Decisions, d => d.Action == DecisionAction.Drain);
        var asked = _clock.GetUtcNow();
        _clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Contains(reconciler.Decide(Snapshot(0, [Worker(instance) with { Draining = true }], [Running(instance)]), _state).Decisions,
            d => d.Action == DecisionAction.Terminate);
        _clock.Advance(TimeSpan.FromSeconds(1));

        // A listing asked for before the terminate still shows it running: nothing to do.
        var stale = reconciler.Decide(Snapshot(0, [], [Running(instance)]) with { ListedAt = asked }, _state);
        Assert.DoesNotContain(stale.Decisions, d => d.Action == DecisionAction.Terminate);
        // One asked for after it that still shows it running: the terminate did not take, so it is tried again.
        var later = reconciler.Decide(Snapshot(0, [], [Running(instance)]) with { ListedAt = _clock.GetUtcNow() }, _state);
        Assert.Contains(later.Decisions, d => d.Action == DecisionAction.Terminate && d.Reason == Reasons.Orphan);
    }

    [Fact]
    public void An_instance_no_record_explains_is_terminated_and_one_with_a_registered_agent_is_adopted()
    {
        var reconciler = Reconciler(Config());
        var orphan = new ProviderInstance("i-orphan", "l1", "small", ProviderInstanceState.Running);
        var known = new ProviderInstance("i-known", "l2", "small", ProviderInstanceState.Running);
        var plan = reconciler.Decide(Snapshot(0, [new WorkerView("as1:small:l2:cpu:0", "t1")], [orphan, known]), _state);
        Assert.Contains(plan.Decisions, d => d.Action == DecisionAction.Terminate && d.Reason == Reasons.Orphan && d.InstanceId == "i-orphan");
        Assert.Contains(plan.Decisions, d => d.Action == DecisionAction.Adopt && d.InstanceId == "i-known");
        Assert.Empty(plan.Launches);
        Assert.Equal("l2", Assert.Single(_state.Live).LaunchId);
    }

    [Fact]
    public void A_ready_instance_without_workers_for_too_long_is_lost()
    {
        var reconciler = Reconciler(Config(c => c.WorkerLostSeconds = 30));
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(instance)], [Running(instance)]), _state);
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Contains(reconciler.Decide(Snapshot(0, [], [Running(instance)]), _state).Decisions,
            d => d.Action == DecisionAction.Lost && d.Reason == Reasons.WorkerLost && d.InstanceId == "i-" + instance.LaunchId);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_instance_running_a_do_not_disrupt_task_gets_a_drain_timeout_more_before_its_silent_agent_is_given_up(bool marked)
    {
        var reconciler = Reconciler(Config(c =>
        {
            c.WorkerLostSeconds = 30;
            c.DrainTimeoutSeconds = 60;
        }));
        var instance = LaunchAll(reconciler, reconciler.Decide(Snapshot(1), _state)).Single();
        reconciler.Decide(Snapshot(0, [Worker(instance, task: "t1") with { DoNotDisrupt = marked }], [Running(instance)]), _state);
        _clock.Advance(TimeSpan.FromSeconds(31));
        var plan = reconciler.Decide(Snapshot(0, [], [Running(instance)]), _state);
        if (!marked)
        {
            Assert.Contains(plan.Decisions, d => d.Action == DecisionAction.Lost && d.Reason == Reasons.WorkerLost);
            return;
        }
        var keep = Assert.Single(plan.Decisions);
        Assert.Equal((DecisionAction.Keep, Reasons.DoNotDisrupt, "t1"), (keep.Action, keep.Reason, keep.Tasks.Single()));
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Empty(reconciler.Decide(Snapshot(0, [], [Running(instance)]), _state).Decisions); // logged once, still kept
        Assert.Single(_state.Live);

        _clock.Advance(TimeSpan.FromSeconds(31));
        plan = reconciler.Decide(Snapshot(0, [], [Running(instance)]), _state);
        Assert.Contains(plan.Decisions, d => d.Action == DecisionAction.Lost && d.Reason == Reasons.WorkerLost);
        Assert.Equal(["t1"], Assert.Single(plan.Decisions, d => d.Action == DecisionAction.RequeueTask).Tasks);
    }

    [Fact]
    public void A_queue_served_by_two_resources_fills_the_first_then_only_what_is_left_on_the_second()
    {
        // ClearML's loop launches 2 + 3 here for 3 tasks; the second resource must only get the one task left.
        var reconciler = Reconciler(Config(c =>
        {
            c.Queues["gpu"] = ["small", "large"];
            c.Resources["small"].MaxInstances = 2;
            c.Resources["large"] = new ResourceConfig { Provider = "local", MachineType = "t2", MaxInstances = 5 };
        }));
        var launches = reconciler.Decide(Snapshot(3), _state).Launches.ToList();
        Assert.Equal(["large", "small", "small"], launches.Select(l => l.Resource).Order());
    }

    [Fact]
    public void Min_instances_are_kept_up_with_nothing_queued()
    {
        var reconciler = Reconciler(Config(c => c.Resources["small"].MinInstances = 2));
        var plan = reconciler.Decide(Snapshot(0), _state);
        Assert.Equal(2, plan.Launches.Count());
        Assert.All(plan.Launches, l => Assert.Equal(Reasons.MinInstances, l.Reason));
        LaunchAll(reconciler, plan);
        Assert.Empty(reconciler.Decide(Snapshot(0), _state).Launches);
    }
}
