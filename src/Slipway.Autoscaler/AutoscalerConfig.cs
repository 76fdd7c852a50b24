using System.Text.Json;
using System.Text.Json.Serialization;

namespace Slipway.Autoscaler;

/// <summary>
/// The autoscaler's one configuration file (JSON, snake_case keys). Defaults are written here once;
/// <see cref="Problems"/> names every mistake at start, so a bad file is refused whole instead of acting on half of it.
/// </summary>
public sealed class AutoscalerConfig
{
    /// <summary>Separates several autoscalers on one server: instances are tagged and workers prefixed with it.</summary>
    public string Name { get; set; } = "autoscaler";

    /// <summary>Queue name → the resources that serve it, most preferred first.</summary>
    public Dictionary<string, List<string>> Queues { get; set; } = [];

    public Dictionary<string, ResourceConfig> Resources { get; set; } = [];

    /// <summary>At most this many live instances over all resources.</summary>
    public int MaxInstances { get; set; } = 10;

    /// <summary>At most this many launches not yet registered as workers at once (Ray's upscaling cap).</summary>
    public int MaxLaunchesInFlight { get; set; } = 5;

    /// <summary>
    /// Time between reconcile passes. Half a second answers an enqueue well within the 1 s target while costing two small
    /// reads (queues, workers) per pass; it works against any ClearML-compatible server, which a server long-poll would not.
    /// </summary>
    public double PollIntervalSeconds { get; set; } = 0.5;

    public double IdleTimeoutSeconds { get; set; } = 600;

    /// <summary>How long a drained instance is watched before it is terminated (it is not if a worker took a task meanwhile).</summary>
    public double DrainRecheckSeconds { get; set; } = 5;

    /// <summary>
    /// A draining instance is terminated after this long even when its drain was never confirmed or its agent never went idle;
    /// the tasks it still runs are then re-queued or failed as a lost instance's are.
    /// </summary>
    public double DrainTimeoutSeconds { get; set; } = 300;

    /// <summary>An instance whose agent has not registered by then is terminated and its offering backed off.</summary>
    public double SpinUpTimeoutSeconds { get; set; } = 900;

    /// <summary>A spot instance not registered by then is given up for the next market (on-demand) in the resource's list.</summary>
    public double SpotFallbackTimeoutSeconds { get; set; } = 300;

    /// <summary>How long an offering (machine type, zone, market) that failed is skipped (Karpenter uses 3 min).</summary>
    public double BackoffSeconds { get; set; } = 180;

    /// <summary>A ready instance that has shown no worker for this long has lost its agent.</summary>
    public double WorkerLostSeconds { get; set; } = 120;

    /// <summary>A task running on a lost instance goes back to its queue (up to <see cref="MaxRequeues"/> times), else it is failed.</summary>
    public bool RequeueOnLoss { get; set; } = true;

    public int MaxRequeues { get; set; } = 3;

    public BudgetConfig? Budget { get; set; }

    /// <summary>What the local provider starts (ignored by other providers).</summary>
    public LocalProviderConfig Local { get; set; } = new();

    /// <summary>The Kubernetes provider's cluster, credentials and per-resource Job templates (only when a resource uses it).</summary>
    public KubernetesProviderConfig? Kubernetes { get; set; }
    /// <summary>Where and how the EC2 provider launches (needed when a resource has provider "ec2").</summary>
    public Ec2ProviderConfig? Ec2 { get; set; }

    [JsonIgnore]
    public TimeSpan PollInterval => TimeSpan.FromSeconds(PollIntervalSeconds);

    [JsonIgnore]
    public TimeSpan IdleTimeout => TimeSpan.FromSeconds(IdleTimeoutSeconds);

    [JsonIgnore]
    public TimeSpan DrainRecheck => TimeSpan.FromSeconds(DrainRecheckSeconds);

    [JsonIgnore]
    public TimeSpan DrainTimeout => TimeSpan.FromSeconds(DrainTimeoutSeconds);

    [JsonIgnore]
    public TimeSpan SpinUpTimeout => TimeSpan.FromSeconds(SpinUpTimeoutSeconds);

    [JsonIgnore]
    public TimeSpan SpotFallbackTimeout => TimeSpan.FromSeconds(SpotFallbackTimeoutSeconds);

    [JsonIgnore]
    public TimeSpan Backoff => TimeSpan.FromSeconds(BackoffSeconds);

    [JsonIgnore]
    public TimeSpan WorkerLost => TimeSpan.FromSeconds(WorkerLostSeconds);

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>Reads a configuration file; a file that is not valid JSON of this shape is refused with the reason.</summary>
    public static AutoscalerConfig Load(string path)
    {
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (IOException e)
        {
            throw new AutoscalerConfigException([$"cannot read {path}: {e.Message}"]);
        }
    }

    public static AutoscalerConfig Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<AutoscalerConfig>(json, Json) ?? throw new AutoscalerConfigException(["the file is empty"]);
        }
        catch (JsonException e)
        {
            throw new AutoscalerConfigException([e.Message]);
        }
    }

    /// <summary>Every problem of the file, in reading order; empty when it can be run. Queues are checked against the server's list when given.</summary>
    public List<string> Problems(IReadOnlyCollection<string> providers, IReadOnlyCollection<string>? serverQueues = null)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Name) || Name.Contains(':', StringComparison.Ordinal))
            problems.Add("name must be non-empty and hold no ':' (it starts every worker id)");
        if (Queues.Count == 0)
            problems.Add("queues: at least one queue must be served");
        if (Resources.Count == 0)
            problems.Add("resources: at least one resource is needed");
        foreach (var (queue, resources) in Queues)
        {
            if (resources is null || resources.Count == 0)
                problems.Add($"queues.{queue}: names no resource");
            foreach (var resource in resources ?? [])
            {
                if (!Resources.ContainsKey(resource))
                    problems.Add($"queues.{queue}: unknown resource '{resource}'");
            }
            if (serverQueues is not null && !serverQueues.Contains(queue))
                problems.Add($"queues.{queue}: the server has no such queue");
        }
        foreach (var (name, resource) in Resources)
        {
            if (name.Contains(':', StringComparison.Ordinal))
                problems.Add($"resources.{name}: a resource name may hold no ':'");
            if (resource is null)
            {
                problems.Add($"resources.{name}: empty");
                continue;
            }
            if (!providers.Contains(resource.Provider))
                problems.Add($"resources.{name}.provider: unknown provider '{resource.Provider}' (known: {string.Join(", ", providers)})");
            if (resource.Slots is < 1 or > 256)
                problems.Add($"resources.{name}.slots: must be between 1 and 256");
            if (resource.MinInstances < 0)
                problems.Add($"resources.{name}.min_instances: must not be negative");
            if (resource.MinInstances > resource.MaxInstances)
                problems.Add($"resources.{name}: min_instances ({resource.MinInstances}) is greater than max_instances ({resource.MaxInstances})");
            if (resource.MaxDisruptions?.Problem is { } disruptions)
                problems.Add($"resources.{name}.max_disruptions: {disruptions}");
            if (resource.Markets.Count == 0)
                problems.Add($"resources.{name}.markets: at least one market (spot or on_demand) is needed");
            foreach (var market in resource.Markets)
            {
                if (market.Market is not (Market.Spot or Market.OnDemand))
                    problems.Add($"resources.{name}.markets: '{market.Market}' is neither {Market.Spot} nor {Market.OnDemand}");
                if (Budget is not null && market.PriceUsdPerHour is null)
                    problems.Add($"resources.{name}.markets.{market.Market}: price_usd_per_hour is needed because a budget is set");
                if (market.PriceUsdPerHour is < 0)
                    problems.Add($"resources.{name}.markets.{market.Market}: price_usd_per_hour must not be negative");
            }
            if (!Queues.Values.Any(q => q?.Contains(name) == true))
                problems.Add($"resources.{name}: serves no queue");
        }
        if (MaxInstances < 1)
            problems.Add("max_instances must be at least 1");
        if (MaxLaunchesInFlight < 1)
            problems.Add("max_launches_in_flight must be at least 1");
        if (MaxRequeues < 0)
            problems.Add("max_requeues must not be negative");
        foreach (var (key, value) in new[]
                 {
                     ("poll_interval_seconds", PollIntervalSeconds), ("idle_timeout_seconds", IdleTimeoutSeconds), ("drain_recheck_seconds", DrainRecheckSeconds),
                     ("drain_timeout_seconds", DrainTimeoutSeconds),
                     ("spin_up_timeout_seconds", SpinUpTimeoutSeconds), ("spot_fallback_timeout_seconds", SpotFallbackTimeoutSeconds),
                     ("backoff_seconds", BackoffSeconds), ("worker_lost_seconds", WorkerLostSeconds),
                 })
        {
            if (!(value > 0) || value > 30 * 24 * 3600)
                problems.Add($"{key} must be positive and at most 30 days");
        }
        if (DrainTimeoutSeconds < DrainRecheckSeconds)
            problems.Add($"drain_timeout_seconds ({DrainTimeoutSeconds}) must not be shorter than drain_recheck_seconds ({DrainRecheckSeconds})");
        if (Budget is { } budget && budget.MaxUsdPerHour is null && budget.MaxUsdPerMonth is null)
            problems.Add("budget: set max_usd_per_hour, max_usd_per_month or both");
        if (Budget is { MaxUsdPerHour: < 0 } or { MaxUsdPerMonth: < 0 })
            problems.Add("budget: caps must not be negative");
        if (Kubernetes is not null)
            problems.AddRange(Kubernetes.Problems(this));
        else if (Resources.Any(r => r.Value?.Provider == KubernetesProviderConfig.ProviderName))
            problems.Add("kubernetes: a resource uses the kubernetes provider, so the kubernetes section is needed");
        var ec2Resources = Resources.Where(r => r.Value?.Provider == Ec2Provider.ProviderName).ToList();
        if (ec2Resources.Count > 0 || Ec2 is not null)
            problems.AddRange(Ec2ProviderConfig.Problems(Ec2, ec2Resources.Select(r => (r.Key, r.Value)).ToList()));
        return problems;
    }

    /// <summary>Throws with every problem named unless the file can be run.</summary>
    public void Validate(IReadOnlyCollection<string> providers, IReadOnlyCollection<string>? serverQueues = null)
    {
        if (Problems(providers, serverQueues) is { Count: > 0 } problems)
            throw new AutoscalerConfigException(problems);
    }
}

/// <summary>A machine template: where it comes from, what it is, how many tasks it runs at once, and how many may exist.</summary>
public sealed class ResourceConfig
{
    public string Provider { get; set; } = "local";

    public string MachineType { get; set; } = "local";

    /// <summary>Agent slots per instance (tasks at once; e.g. 4 for a 4-GPU machine running one-GPU tasks).</summary>
    public int Slots { get; set; } = 1;

    public int MinInstances { get; set; }

    public int MaxInstances { get; set; } = 1;

    /// <summary>
    /// At most this many of its instances are drained or terminated for idleness at once: a count (2) or a share of its live
    /// instances ("20%", rounded up); null: no limit. Scale-down then goes in waves instead of all idle machines at one pass.
    /// </summary>
    public DisruptionBudget? MaxDisruptions { get; set; }

    /// <summary>Markets to try, in order (e.g. spot, then on_demand), each with its price and zones.</summary>
    public List<MarketConfig> Markets { get; set; } = [new()];
}

public sealed class MarketConfig
{
    public string Market { get; set; } = Autoscaler.Market.OnDemand;

    public decimal? PriceUsdPerHour { get; set; }

    /// <summary>Zones or subnets to try in order; empty: the provider's default.</summary>
    public List<string> Zones { get; set; } = [];
}

public static class Market
{
    public const string Spot = "spot";
    public const string OnDemand = "on_demand";
}

/// <summary>Dollar caps: no launch takes the projected spend over either.</summary>
public sealed class BudgetConfig
{
    public decimal? MaxUsdPerHour { get; set; }

    public decimal? MaxUsdPerMonth { get; set; }
}

/// <summary>How the local provider starts agents.</summary>
public sealed class LocalProviderConfig
{
    /// <summary>The command that runs the slipway executable (default: this process's own executable).</summary>
    public List<string> Command { get; set; } = [];

    /// <summary>Extra arguments for every <c>slipway agent</c> (e.g. --system-python).</summary>
    public List<string> AgentArguments { get; set; } = [];

    /// <summary>Parent of each agent's work directory (default: a folder under the temp directory).</summary>
    public string? WorkDirectory { get; set; }
}

/// <summary>How the EC2 provider launches: the account's region and network, the image, and what the instance runs at boot.</summary>
public sealed class Ec2ProviderConfig
{
    /// <summary>The AWS region, e.g. us-east-1. Credentials come from the SDK's usual chain (environment, profile, instance role).</summary>
    public string? Region { get; set; }

    /// <summary>Another EC2 endpoint (an EC2-compatible stand-in such as moto, or a VPC endpoint); default: the region's.</summary>
    public string? EndpointUrl { get; set; }

    /// <summary>The image every instance boots (ami-…); it must have the slipway executable or get it in <see cref="SetupCommands"/>.</summary>
    public string? Ami { get; set; }

    /// <summary>Subnets to launch into (subnet-…), in order, for a market that names no zones of its own; empty: the default VPC.</summary>
    public List<string> Subnets { get; set; } = [];

    /// <summary>Security groups (sg-…) for every instance; empty: the VPC's default group.</summary>
    public List<string> SecurityGroupIds { get; set; } = [];

    /// <summary>IAM instance profile, by name or ARN (arn:…); optional.</summary>
    public string? InstanceProfile { get; set; }

    /// <summary>An EC2 key pair for SSH; optional.</summary>
    public string? KeyName { get; set; }

    /// <summary>The server's API address as instances reach it (default: the address this autoscaler uses).</summary>
    public string? ServerUrl { get; set; }

    /// <summary>The file server's address as instances reach it (tasks upload there); optional.</summary>
    public string? FilesServerUrl { get; set; }

    /// <summary>The web UI's address as instances reach it (links in task output); optional.</summary>
    public string? WebServerUrl { get; set; }

    /// <summary>Shell lines run at boot before the agent starts (e.g. installing slipway); they must not print secrets.</summary>
    public List<string> SetupCommands { get; set; } = [];

    /// <summary>The slipway executable on the image.</summary>
    public string AgentCommand { get; set; } = "slipway";

    /// <summary>Extra arguments for <c>slipway agent</c> (e.g. --gpus 0,1).</summary>
    public List<string> AgentArguments { get; set; } = [];

    /// <summary>The agent stops (and the instance shuts down, hence terminates) when the server has not answered for this long: a dead autoscaler leaks no machine.</summary>
    public double ServerUnreachableShutdownMinutes { get; set; } = 30;

    /// <summary>What the instance runs once the agent has stopped; with InstanceInitiatedShutdownBehavior=terminate it ends the instance.</summary>
    public string ShutdownCommand { get; set; } = "shutdown -h now";

    /// <summary>Root volume size in GiB (default: the image's).</summary>
    public int? VolumeSizeGib { get; set; }

    /// <summary>Root volume device name of the image (default /dev/sda1; Amazon Linux uses /dev/xvda).</summary>
    public string VolumeDeviceName { get; set; } = "/dev/sda1";

    /// <summary>Extra tags on every instance and volume (keys starting slipway: or aws: are reserved).</summary>
    public Dictionary<string, string> Tags { get; set; } = [];

    /// <summary>Every problem of the ec2 section and of the resources that use it, in reading order.</summary>
    public static List<string> Problems(Ec2ProviderConfig? ec2, IReadOnlyList<(string Name, ResourceConfig Resource)> resources)
    {
        var problems = new List<string>();
        if (ec2 is null)
        {
            problems.Add($"ec2: resources {string.Join(", ", resources.Select(r => r.Name))} use provider ec2, but there is no ec2 section (region, ami, …)");
            return problems;
        }
        if (string.IsNullOrWhiteSpace(ec2.Region) || !System.Text.RegularExpressions.Regex.IsMatch(ec2.Region, "^[a-z]{2}(-[a-z]+)+-[0-9]+$"))
            problems.Add($"ec2.region: '{ec2.Region}' is not a region name such as us-east-1");
        foreach (var (key, url) in new[] { ("endpoint_url", ec2.EndpointUrl), ("server_url", ec2.ServerUrl), ("files_server_url", ec2.FilesServerUrl), ("web_server_url", ec2.WebServerUrl) })
        {
            if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https")))
                problems.Add($"ec2.{key}: '{url}' is not an http(s) URL");
        }
        if (ec2.Ami is null || !ec2.Ami.StartsWith("ami-", StringComparison.Ordinal) || ec2.Ami.Length < 8)
            problems.Add($"ec2.ami: '{ec2.Ami}' is not an image id (ami-…)");
        foreach (var subnet in ec2.Subnets.Where(s => !IsSubnet(s)))
            problems.Add($"ec2.subnets: '{subnet}' is not a subnet id (subnet-…)");
        foreach (var group in ec2.SecurityGroupIds.Where(g => !g.StartsWith("sg-", StringComparison.Ordinal) || g.Length < 6))
            problems.Add($"ec2.security_group_ids: '{group}' is not a security group id (sg-…)");
        if (ec2.InstanceProfile is { } profile && string.IsNullOrWhiteSpace(profile))
            problems.Add("ec2.instance_profile: empty (leave it out for none)");
        if (ec2.KeyName is { } keyName && string.IsNullOrWhiteSpace(keyName))
            problems.Add("ec2.key_name: empty (leave it out for none)");
        if (string.IsNullOrWhiteSpace(ec2.AgentCommand))
            problems.Add("ec2.agent_command: empty");
        if (ec2.SetupCommands.Any(c => c.Contains("set -x", StringComparison.Ordinal) || c.Contains("set -o xtrace", StringComparison.Ordinal)))
            problems.Add("ec2.setup_commands: 'set -x' would echo the enrollment token to the console; remove it");
        if (!(ec2.ServerUnreachableShutdownMinutes > 0))
            problems.Add("ec2.server_unreachable_shutdown_minutes must be positive");
        if (string.IsNullOrWhiteSpace(ec2.ShutdownCommand))
            problems.Add("ec2.shutdown_command: empty (the instance would stay up after its agent stopped)");
        if (ec2.VolumeSizeGib is < 1 or > 16384)
            problems.Add("ec2.volume_size_gib must be between 1 and 16384");
        foreach (var key in ec2.Tags.Keys.Where(k => k.StartsWith("slipway:", StringComparison.OrdinalIgnoreCase) || k.StartsWith("aws:", StringComparison.OrdinalIgnoreCase)))
            problems.Add($"ec2.tags: '{key}' is reserved (slipway: and aws: keys are set by the autoscaler or AWS)");
        foreach (var (name, resource) in resources)
        {
            if (string.IsNullOrWhiteSpace(resource.MachineType) || resource.MachineType == "local" || !resource.MachineType.Contains('.', StringComparison.Ordinal))
                problems.Add($"resources.{name}.machine_type: '{resource.MachineType}' is not an EC2 instance type such as g5.xlarge");
            foreach (var market in resource.Markets)
            {
                foreach (var zone in market.Zones.Where(z => !IsSubnet(z) && !(ec2.Region is { Length: > 0 } region && z.StartsWith(region, StringComparison.Ordinal) && z.Length > region.Length)))
                    problems.Add($"resources.{name}.markets.{market.Market}.zones: '{zone}' is neither a subnet id (subnet-…) nor a zone of {ec2.Region}");
            }
        }
        return problems;

        static bool IsSubnet(string s) => s.StartsWith("subnet-", StringComparison.Ordinal) && s.Length > 8;
    }
}

/// <summary>A configuration that cannot be run, with every problem found.</summary>
public sealed class AutoscalerConfigException(IReadOnlyList<string> problems)
    : Exception("the autoscaler configuration has problems:\n  - " + string.Join("\n  - ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
