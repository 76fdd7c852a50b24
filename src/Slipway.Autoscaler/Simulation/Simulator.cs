namespace Slipway.Autoscaler.Simulation;

/// <summary>What a policy did with a trace: queue waits, instance-hours, and launches beyond what waiting tasks needed.</summary>
public sealed record SimulationResult(
    string Policy, int Tasks, TimeSpan P50Wait, TimeSpan P95Wait, TimeSpan MaxWait, double InstanceHours, int Launches, int MostInstances,
    int LaunchesBeyondNeed, decimal CostUsd);

/// <summary>
/// Replays a trace against simulated one-slot instances that boot in a seeded 90–180 s and whose agents take the next
/// queued task at once, under Slipway's reconciler or under ClearML's open-source policy (5-minute poll, 15-minute idle,
/// one launch at a time, booting instances not counted as capacity), on the same simulated second-by-second clock.
/// </summary>
public sealed class Simulator(IReadOnlyList<TraceTask> trace, int seed = 14, decimal priceUsdPerHour = 1m)
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan GiveUp = TimeSpan.FromDays(3);
    private static readonly DateTimeOffset Epoch = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Slipway's policy with <paramref name="config"/> (its first queue and resource are simulated).</summary>
    public SimulationResult RunSlipway(AutoscalerConfig config)
    {
        var clock = new SimulatedClock(Epoch);
        var reconciler = new Reconciler(config, clock);
        var state = new AutoscalerState();
        var queue = config.Queues.Keys.First();
        var resource = config.Queues[queue][0];
        var world = new World(trace, seed);
        var ids = trace.Select(t => t.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        for (var now = TimeSpan.Zero; !world.Done(now) && now < GiveUp; now += Step)
        {
            clock.Now = Epoch + now;
            world.Advance(now);
            var live = world.Live.ToList();
            var snapshot = new ClusterSnapshot(
                new Dictionary<string, IReadOnlyList<string>> { [queue] = world.Queue.Select(t => ids[t]).ToList() },
                live.Where(i => i.ReadyAt <= now).Select(i => new WorkerView($"{config.Name}:{resource}:{i.LaunchId}:cpu:0", i.Task is { } t ? ids[t] : null, i.Draining)).ToList(),
                live.Select(i => new ProviderInstance("sim-" + i.LaunchId, i.LaunchId, resource, ProviderInstanceState.Running)).ToList());
            var need = world.Queue.Count - live.Count(i => i.Task is null);
            var plan = reconciler.Decide(snapshot, state);
            foreach (var decision in plan.Decisions)
            {
                switch (decision.Action)
                {
                    case DecisionAction.Launch:
                        world.Launch(decision.LaunchId!, now, need-- <= 0);
                        Reconciler.Launched(state, decision.LaunchId!, "sim-" + decision.LaunchId);
                        break;
                    case DecisionAction.Drain or DecisionAction.Undrain when decision.LaunchId is { } drained:
                        world.Drain(drained, decision.Action == DecisionAction.Drain);
                        break;
                    case DecisionAction.Terminate or DecisionAction.Lost when decision.LaunchId is { } id:
                        world.Terminate(id, now);
                        break;
                }
            }
        }
        return world.Result("Slipway", priceUsdPerHour);
    }

    /// <summary>ClearML's open-source loop as the research note reads it, with the booting-capacity bug the issue names.</summary>
    public SimulationResult RunClearMl(int maxInstances, TimeSpan? poll = null, TimeSpan? idle = null, TimeSpan? launchBlocks = null)
    {
        var pollEvery = poll ?? TimeSpan.FromMinutes(5);
        var idleLimit = idle ?? TimeSpan.FromMinutes(15);
        // Each launch blocks the loop until the instance runs (wait_until_running), so launches go one after another.
        var block = launchBlocks ?? TimeSpan.FromSeconds(30);
        var world = new World(trace, seed);
        var idleSince = new Dictionary<string, TimeSpan>();
        var nextPoll = TimeSpan.Zero;
        var pending = new Queue<(TimeSpan At, bool Beyond)>();
        var launched = 0;
        for (var now = TimeSpan.Zero; !(world.Done(now) && pending.Count == 0) && now < GiveUp; now += Step)
        {
            world.Advance(now);
            while (pending.TryPeek(out var next) && next.At <= now)
            {
                pending.Dequeue();
                world.Launch($"c{launched++}", now, next.Beyond);
            }
            if (now < nextPoll)
                continue;
            var live = world.Live.ToList();
            var ready = live.Where(i => i.ReadyAt <= now).ToList();
            foreach (var instance in ready)
            {
                if (instance.Task is null)
                    idleSince.TryAdd(instance.LaunchId, now);
                else
                    idleSince.Remove(instance.LaunchId);
            }
            var launches = 0;
            if (world.Queue.Count > 0)
            {
                var free = ready.Count(i => i.Task is null); // booting instances are not counted: the overshoot
                var booting = live.Count - ready.Count;
                var allowed = maxInstances - live.Count - pending.Count;
                launches = Math.Max(0, Math.Min(world.Queue.Count - free, allowed));
                var trueNeed = world.Queue.Count - free - booting;
                for (var k = 0; k < launches; k++)
                    pending.Enqueue((now + block * k, k >= trueNeed));
            }
            else
            {
                foreach (var instance in ready.Where(i => i.Task is null && now - idleSince[i.LaunchId] > idleLimit))
                {
                    world.Terminate(instance.LaunchId, now);
                    idleSince.Remove(instance.LaunchId);
                }
            }
            nextPoll = now + block * launches + pollEvery;
        }
        return world.Result("ClearML OSS policy", priceUsdPerHour);
    }

    private sealed class SimInstance(string launchId, TimeSpan requested, TimeSpan readyAt)
    {
        public string LaunchId { get; } = launchId;
        public TimeSpan Requested { get; } = requested;
        public TimeSpan ReadyAt { get; } = readyAt;
        public TimeSpan? Terminated { get; set; }
        public int? Task { get; set; }
        public TimeSpan TaskEnds { get; set; }

        /// <summary>Marked draining, as the server would: it takes no task.</summary>
        public bool Draining { get; set; }
    }

    /// <summary>Tasks arrive, wait, run on ready instances and finish; instances boot and end. Both policies share it.</summary>
    private sealed class World(IReadOnlyList<TraceTask> trace, int seed)
    {
        private readonly Random _boots = new(seed);
        private readonly List<SimInstance> _instances = [];
        private readonly Dictionary<string, SimInstance> _byLaunch = [];
        private readonly TimeSpan[] _waits = new TimeSpan[trace.Count];
        private int _next;
        private int _finished;
        private int _beyondNeed;
        private int _most;
        private TimeSpan _end;

        public LinkedList<int> Queue { get; } = new();

        public IEnumerable<SimInstance> Live => _instances.Where(i => i.Terminated is null);

        public bool Done(TimeSpan now) => _next == trace.Count && _finished == trace.Count && !Live.Any() && now > TimeSpan.Zero;

        public void Advance(TimeSpan now)
        {
            _end = now;
            while (_next < trace.Count && trace[_next].Arrival <= now)
                Queue.AddLast(_next++);
            foreach (var instance in Live)
            {
                if (instance.Task is not null && instance.TaskEnds <= now)
                {
                    instance.Task = null;
                    _finished++;
                }
                if (instance.Task is null && !instance.Draining && instance.ReadyAt <= now && Queue.First is { } first)
                {
                    Queue.RemoveFirst();
                    instance.Task = first.Value;
                    instance.TaskEnds = now + trace[first.Value].Duration;
                    _waits[first.Value] = now - trace[first.Value].Arrival;
                }
            }
        }

        public void Launch(string launchId, TimeSpan now, bool beyondNeed)
        {
            var instance = new SimInstance(launchId, now, now + TimeSpan.FromSeconds(90 + _boots.NextDouble() * 90));
            _instances.Add(instance);
            _byLaunch[launchId] = instance;
            if (beyondNeed)
                _beyondNeed++;
            _most = Math.Max(_most, Live.Count());
        }

        public void Drain(string launchId, bool drain)
        {
            if (_byLaunch.TryGetValue(launchId, out var instance))
                instance.Draining = drain;
        }

        public void Terminate(string launchId, TimeSpan now)
        {
            if (_byLaunch.TryGetValue(launchId, out var instance) && instance.Terminated is null)
            {
                if (instance.Task is { } task)
                {
                    // Policies stop idle instances only; a task cut short would go back to the queue's head.
                    Queue.AddFirst(task);
                    instance.Task = null;
                }
                instance.Terminated = now;
            }
        }

        public SimulationResult Result(string policy, decimal price)
        {
            var waits = _waits.Order().ToArray();
            TimeSpan At(double p) => waits.Length == 0 ? TimeSpan.Zero : waits[Math.Clamp((int)Math.Ceiling(p / 100 * waits.Length) - 1, 0, waits.Length - 1)];
            var hours = _instances.Sum(i => ((i.Terminated ?? _end) - i.Requested).TotalHours);
            return new SimulationResult(policy, trace.Count, At(50), At(95), At(100), hours, _instances.Count, _most, _beyondNeed, price * (decimal)hours);
        }
    }
}
