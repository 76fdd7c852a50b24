using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Slipway.Client;

namespace Slipway.Autoscaler;

/// <summary>
/// Runs the reconciler against a server and providers: read both truths, decide, write the state (before any launch, so
/// that whatever is launched has a record), carry the decisions out, log them. A failed pass is logged and the next tick
/// starts over from what the server and the providers say, so there is no crash loop and no half-remembered world.
/// </summary>
public sealed class AutoscalerLoop
{
    /// <summary>The state is written at every pass that decided something, and at least this often otherwise (idle clocks move).</summary>
    public static readonly TimeSpan StateRefresh = TimeSpan.FromSeconds(10);

    private readonly IAutoscalerServer _server;
    private readonly IReadOnlyDictionary<string, IComputeProvider> _providers;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private DateTimeOffset _savedAt = DateTimeOffset.MinValue;

    /// <summary>Which provider listed each instance: an orphan of a resource no longer configured is still terminated where it runs.</summary>
    private readonly Dictionary<string, IComputeProvider> _providerOf = new(StringComparer.Ordinal);

    public AutoscalerLoop(AutoscalerConfig config, IAutoscalerServer server, IEnumerable<IComputeProvider> providers, TimeProvider? clock = null, ILogger? logger = null)
    {
        Config = config;
        _server = server;
        _providers = providers.ToDictionary(p => p.Name, StringComparer.Ordinal);
        _clock = clock ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        Reconciler = new Reconciler(config, _clock);
    }

    public AutoscalerConfig Config { get; }

    public Reconciler Reconciler { get; }

    public AutoscalerState State { get; private set; } = new();

    /// <summary>Checks the configuration against the providers and the server's queues (every problem named) and loads the stored state.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        Config.Validate(_providers.Keys.ToList(), await _server.QueueNamesAsync(ct).ConfigureAwait(false));
        State = await _server.LoadStateAsync(Config.Name, ct).ConfigureAwait(false) ?? new AutoscalerState();
        // The providers are asked once before the first pass (a cloud's first answer is its slowest); one that does not
        // answer now is only logged: the first pass asks again.
        try
        {
            _lastListing = await StartListing(ct).Completed().ConfigureAwait(false);
        }
        catch (Exception e) when (e is ProviderException or IOException or InvalidOperationException)
        {
            AutoscalerLog.PassFailed(_logger, Config.Name, e.Message);
        }
    }

    /// <summary>Reads both truths and decides; nothing is carried out (the dry run, and the first half of a pass).</summary>
    /// <param name="ct">Cancels the reads.</param>
    /// <param name="freshListing">
    /// False: use the newest provider listing that has come back and ask for the next one, so that a slow cloud list call
    /// (hundreds of milliseconds) does not stand between an enqueue and its launch. The server's side is read every pass.
    /// </param>
    public async Task<Plan> PlanAsync(CancellationToken ct, bool freshListing = true)
    {
        var read = _server.ReadAsync(Config.Queues.Keys, ct);
        Listing listing;
        if (freshListing || (_listing is null && _lastListing is null) || _listing is { Task.IsFaulted: true } or { Task.IsCanceled: true })
        {
            // Read at once with the server: a cloud's list call, not the server, is the slow one.
            listing = StartListing(ct);
            _lastListing = await listing.Completed().ConfigureAwait(false);
            _listing = null;
        }
        else if (_listing is { Task.IsCompleted: true })
        {
            _lastListing = await _listing.Completed().ConfigureAwait(false);
            _listing = null;
        }
        _listing ??= freshListing ? null : StartListing(ct);
        var (queued, workers) = await read.ConfigureAwait(false);
        var (instances, listedAt) = _lastListing ?? throw new InvalidOperationException("no provider listing yet");
        return Reconciler.Decide(new ClusterSnapshot(queued, workers, instances) { ListedAt = listedAt }, State);
    }

    private (IReadOnlyList<ProviderInstance> Instances, DateTimeOffset ListedAt)? _lastListing;
    private Listing? _listing;

    /// <summary>One listing of every provider the resources use, and when it was asked for.</summary>
    private sealed record Listing(Task<List<ProviderInstance>> Task, DateTimeOffset StartedAt)
    {
        public async Task<(IReadOnlyList<ProviderInstance>, DateTimeOffset)> Completed() => (await Task.ConfigureAwait(false), StartedAt);
    }

    private Listing StartListing(CancellationToken ct)
    {
        var startedAt = _clock.GetUtcNow();
        var providers = Config.Resources.Values.Select(r => r.Provider).Distinct().Select(p => _providers[p]).ToList();
        return new Listing(ListAllAsync(providers, ct), startedAt);
    }

    private async Task<List<ProviderInstance>> ListAllAsync(List<IComputeProvider> providers, CancellationToken ct)
    {
        var lists = providers.Select(p => p.ListAsync(Config.Name, ct)).ToList();
        var instances = new List<ProviderInstance>();
        for (var i = 0; i < providers.Count; i++)
        {
            foreach (var instance in await lists[i].ConfigureAwait(false))
            {
                instances.Add(instance);
                lock (_providerOf)
                    _providerOf[instance.InstanceId] = providers[i];
            }
        }
        return instances;
    }

    /// <summary>One pass: decide and carry out; returns every decision, launch failures included.</summary>
    /// <param name="ct">Cancels the pass.</param>
    /// <param name="freshListing">As for <see cref="PlanAsync"/>: the loop passes false, a single pass (tests, tools) true.</param>
    public async Task<IReadOnlyList<Decision>> RunOnceAsync(CancellationToken ct, bool freshListing = true)
    {
        var plan = await PlanAsync(ct, freshListing).ConfigureAwait(false);
        var now = _clock.GetUtcNow();
        if (plan.Decisions.Count > 0 || now - _savedAt >= StateRefresh)
        {
            await _server.SaveStateAsync(Config.Name, State, ct).ConfigureAwait(false);
            _savedAt = now;
        }
        if (plan.Decisions.Count == 0)
            return [];
        var done = new List<Decision>();
        foreach (var decision in plan.Decisions)
        {
            done.Add(decision);
            if (await CarryOutAsync(decision, ct).ConfigureAwait(false) is { } followUp)
                done.Add(followUp);
        }
        await _server.SaveStateAsync(Config.Name, State, ct).ConfigureAwait(false);
        foreach (var decision in done)
            AutoscalerLog.Decided(_logger, Config.Name, decision.ToString());
        await _server.AppendLogAsync(Config.Name, done, ct).ConfigureAwait(false);
        return done;
    }

    private async Task<Decision?> CarryOutAsync(Decision decision, CancellationToken ct)
    {
        try
        {
            switch (decision.Action)
            {
                case DecisionAction.Launch:
                    var record = State.Instances.First(r => r.LaunchId == decision.LaunchId);
                    var resource = Config.Resources[record.Resource];
                    var queues = Config.Queues.Where(q => q.Value.Contains(record.Resource)).Select(q => q.Key).ToList();
                    try
                    {
                        var id = await _providers[resource.Provider].LaunchAsync(
                            new LaunchRequest(Config.Name, record.LaunchId, record.Resource, record.MachineType, record.Offering, record.Slots, queues), ct).ConfigureAwait(false);
                        Reconciler.Launched(State, record.LaunchId, id);
                        return null;
                    }
                    catch (OfferingUnavailableException e)
                    {
                        await RevokeAsync(record.LaunchId, ct).ConfigureAwait(false);
                        return Reconciler.LaunchFailed(State, record.LaunchId, capacity: true, e.Message);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        await RevokeAsync(record.LaunchId, ct).ConfigureAwait(false);
                        return Reconciler.LaunchFailed(State, record.LaunchId, capacity: false, e.Message);
                    }
                case DecisionAction.Terminate or DecisionAction.Lost:
                    IComputeProvider? listedBy = null;
                    if (decision.InstanceId is { } listed)
                    {
                        lock (_providerOf)
                            listedBy = _providerOf.GetValueOrDefault(listed);
                    }
                    if (decision.InstanceId is { } instance
                        && (listedBy ?? (Config.Resources.TryGetValue(decision.Resource, out var of) ? _providers[of.Provider] : null)) is { } provider)
                    {
                        await provider.TerminateAsync(instance, ct).ConfigureAwait(false);
                        lock (_providerOf)
                            _providerOf.Remove(instance);
                    }
                    // Revoke before unregistering: an agent that is still up while its machine shuts down would otherwise
                    // register its worker again with its next status report.
                    if (decision.LaunchId is { } ended)
                        await _server.RevokeLaunchesAsync(Config.Name, [ended], ct).ConfigureAwait(false);
                    if (decision.Workers.Count > 0)
                        await _server.UnregisterWorkersAsync(decision.Workers, ct).ConfigureAwait(false);
                    return null;
                case DecisionAction.RequeueTask or DecisionAction.FailTask:
                    await _server.ReleaseTaskAsync(decision.Tasks[0], decision.Workers[0], decision.Action == DecisionAction.RequeueTask, decision.Detail ?? decision.Reason, ct)
                        .ConfigureAwait(false);
                    return null;
                case DecisionAction.Drain or DecisionAction.Undrain when decision.Workers.Count > 0:
                    await _server.DrainWorkersAsync(decision.Workers, decision.Action == DecisionAction.Drain,
                        $"autoscaler {Config.Name}: {decision.Reason}{(decision.Detail is null ? "" : " (" + decision.Detail + ")")}", ct).ConfigureAwait(false);
                    return null;
                case DecisionAction.Hold:
                    await _server.HoldTaskAsync(decision.Tasks[0], decision.Detail ?? decision.Reason, ct).ConfigureAwait(false);
                    return null;
                default:
                    return null;
            }
        }
        catch (Exception e) when (e is SlipwayException or IOException or InvalidOperationException or ProviderException or System.ComponentModel.Win32Exception)
        {
            // A terminate that failed leaves a tagged instance without a live record: the next pass finds it and tries again.
            AutoscalerLog.ActionFailed(_logger, Config.Name, decision.ToString(), e.Message);
            return null;
        }
    }

    /// <summary>A launch that will not run: its enrollment token stops working (a failure here is logged; the token expires anyway).</summary>
    private async Task RevokeAsync(string launchId, CancellationToken ct)
    {
        try
        {
            await _server.RevokeLaunchesAsync(Config.Name, [launchId], ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SlipwayException or IOException or HttpRequestException)
        {
            AutoscalerLog.ActionFailed(_logger, Config.Name, $"revoking launch {launchId}", e.Message);
        }
    }

    /// <summary>Passes every <see cref="AutoscalerConfig.PollInterval"/> until cancelled; a failed pass is logged and the next one starts afresh.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Config.PollInterval, _clock);
        do
        {
            try
            {
                await RunOnceAsync(ct, freshListing: false).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SlipwayException or IOException or InvalidOperationException or HttpRequestException or ProviderException)
            {
                AutoscalerLog.PassFailed(_logger, Config.Name, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
    }
}
