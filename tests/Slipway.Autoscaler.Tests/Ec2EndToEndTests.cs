using System.Text.Json.Nodes;
using Amazon.EC2.Model;
using Slipway.Autoscaler.Tests.Infrastructure;
using Slipway.Client;

namespace Slipway.Autoscaler.Tests;

/// <summary>
/// The autoscaler with the EC2 provider against moto's EC2 and a real server on loopback. <see cref="Ec2Cloud"/> plays the
/// cloud: it runs each launched instance's user-data (which enrolls a real <c>slipway agent</c> with its one-time token)
/// and kills it when the instance is terminated.
/// </summary>
public sealed class Ec2EndToEndTests : IAsyncLifetime
{
    private readonly string _scaler = "ec2e" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "slipway-ec2-e2e-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly Ec2Faults _faults = new();
    private readonly CapturedLog _log = new();
    private TestServer _server = null!;
    private SlipwayClient _client = null!;
    private Ec2Cloud _cloud = null!;
    private Amazon.EC2.AmazonEC2Client _ec2 = null!;
    private List<string> _subnets = [];

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
        await _client.Queues.CreateAsync("q");
        _ec2 = MotoEc2.Client(_faults);
        _subnets = (await _ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest())).Subnets.OrderBy(s => s.AvailabilityZone).Select(s => s.SubnetId).Take(2).ToList();
    }

    public async Task DisposeAsync()
    {
        if (_cloud is not null)
            await _cloud.DisposeAsync();
        _ec2.Dispose();
        _client.Dispose();
        await _server.DisposeAsync();
        try
        {
            if (Environment.GetEnvironmentVariable("SLIPWAY_KEEP_TEST_DIRS") is null)
                Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void StartCloud(Func<Instance, bool>? boots = null) => _cloud = new Ec2Cloud(_scaler, _root, boots);

    private AutoscalerConfig Config(Action<AutoscalerConfig>? change = null)
    {
        var config = new AutoscalerConfig
        {
            Name = _scaler, MaxInstances = 3, PollIntervalSeconds = 0.25, IdleTimeoutSeconds = 3, DrainRecheckSeconds = 0.5,
            SpinUpTimeoutSeconds = 90, WorkerLostSeconds = 60, BackoffSeconds = 300,
            Ec2 = new Ec2ProviderConfig
            {
                Region = MotoEc2.Region, EndpointUrl = MotoEc2.Endpoint, Ami = "ami-03cf127a",
                FilesServerUrl = _server.Server.FilesUrl.ToString(), WebServerUrl = _server.Server.WebUrl.ToString(),
                AgentArguments = ["--ping", "1", "--system-python", "--python", "/usr/bin/python3"],
            },
        };
        config.Queues["q"] = ["cpu"];
        config.Resources["cpu"] = new ResourceConfig { Provider = "ec2", MachineType = "t3.micro", MaxInstances = 2 };
        change?.Invoke(config);
        return config;
    }

    private AutoscalerLoop Loop(AutoscalerConfig config)
    {
        var connection = new ServerConnection(_client);
        return new AutoscalerLoop(config, connection, [new Ec2Provider(config, connection, _server.Server.ApiUrl, _ec2)], logger: _log);
    }

    /// <summary>Runs the loop until the body is done, then stops it (instances keep running, as when the process stops).</summary>
    private static async Task RunAsync(AutoscalerLoop loop, Func<Task> body)
    {
        await loop.StartAsync(default);
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        try
        {
            await body();
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
    }

    private async Task<string> EnqueueAsync(string name, string script)
    {
        var data = await _client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = name, ["type"] = "training",
            ["script"] = new JsonObject { ["binary"] = "bash", ["entry_point"] = "task.sh", ["diff"] = script },
        });
        var id = data["id"]!.GetValue<string>();
        await _client.Tasks.EnqueueAsync(id, "q");
        return id;
    }

    private async Task<List<JsonObject>> EventsAsync() =>
        ((await _client.CallAsync("autoscaler.get_events", new JsonObject { ["scaler"] = _scaler, ["page_size"] = 1000 }))["events"] as JsonArray ?? [])
        .OfType<JsonObject>().Reverse().ToList();

    private static string Field(JsonObject e, string name) => e[name]?.GetValue<string>() ?? "";

    private async Task<List<Instance>> LiveAsync() => (await _cloud.InstancesAsync()).Where(i => i.State.Name.Value is "pending" or "running").ToList();

    private Task WaitForStatusAsync(string task, string status, int seconds = 60) =>
        Poll.UntilAsync(async () => (await _client.Tasks.GetAsync(task)).Status, s => s == status, TimeSpan.FromSeconds(seconds), $"task {task} {status}");

    [Fact]
    public async Task Queued_tasks_start_enrolled_instances_that_finish_them_and_go_when_idle_and_no_secret_leaks()
    {
        StartCloud();
        var secrets = Path.Combine(_root, "secrets");
        Directory.CreateDirectory(secrets);
        // Each task writes down the key it was handed, so that the test can look for it where it must not be.
        var tasks = new List<string>();
        for (var i = 0; i < 2; i++)
            tasks.Add(await EnqueueAsync($"t{i}", $"sleep 1\nprintf '%s' \"$CLEARML_API_SECRET_KEY\" > {secrets}/$CLEARML_TASK_ID\n"));
        var loop = Loop(Config());
        var mostInstances = 0;
        await RunAsync(loop, async () =>
        {
            await Poll.UntilAsync(async () =>
            {
                mostInstances = Math.Max(mostInstances, (await LiveAsync()).Count);
                var statuses = new List<string>();
                foreach (var id in tasks)
                    statuses.Add((await _client.Tasks.GetAsync(id)).Status);
                return statuses;
            }, s => s.All(x => x == "completed"), TimeSpan.FromSeconds(90), "both tasks completed");
            await Poll.UntilAsync(LiveAsync, l => l.Count == 0, TimeSpan.FromSeconds(60), "instances terminated after the idle timeout");
            await Poll.UntilAsync(EventsAsync, l => l.Count(e => Field(e, "action") == "terminate") >= l.Count(e => Field(e, "action") == "launch"),
                TimeSpan.FromSeconds(10), "every launch has its stop logged");
        });

        Assert.InRange(mostInstances, 1, 2);
        var workers = (await _client.CallAsync("workers.get_all", []))["workers"]!.AsArray();
        Assert.DoesNotContain(workers, w => w!["id"]!.GetValue<string>().StartsWith(_scaler + ":", StringComparison.Ordinal));
        var events = await EventsAsync();
        Assert.All(events.Where(e => Field(e, "action") == "terminate"), e => Assert.Equal("idle", Field(e, "reason")));

        // The agents ran with keys of their own, which the launch's end revoked.
        var keys = Directory.GetFiles(secrets).Select(File.ReadAllText).ToList();
        Assert.Equal(2, keys.Count);
        Assert.All(keys, k => Assert.True(k.Length >= 32));
        var admin = _server.Environment()["CLEARML_API_SECRET_KEY"];
        Assert.DoesNotContain(admin, keys);
        var booted = _cloud.BootedInstances.Values.ToList();
        Assert.NotEmpty(booted);
        var said = _log.Text + "\n" + string.Join("\n", events.Select(e => e.ToJsonString()));
        foreach (var instance in booted)
        {
            var token = instance.UserData.Split('\n').Single(l => l.StartsWith(Ec2UserData.TokenVariable + "=", StringComparison.Ordinal)).Split('\'')[1];
            Assert.DoesNotContain(token, said, StringComparison.Ordinal);
            Assert.DoesNotContain(token, instance.Console, StringComparison.Ordinal);
            Assert.Contains("enrolled with", instance.Console, StringComparison.Ordinal);
            foreach (var secret in keys.Append(admin))
            {
                Assert.DoesNotContain(secret, instance.UserData, StringComparison.Ordinal);
                Assert.DoesNotContain(secret, instance.Console, StringComparison.Ordinal);
                Assert.DoesNotContain(secret, said, StringComparison.Ordinal);
            }
            // Spent: the token of a finished launch is refused.
            var refused = await Assert.ThrowsAsync<SlipwayException>(() =>
                Slipway.Agent.AgentEnrollment.ExchangeAsync(_server.Server.ApiUrl, token, null, TimeSpan.FromSeconds(5), default));
            Assert.Equal(401, refused.ResultCode);
        }
        var users = (await _client.CallAsync("users.get_all", []))["users"]!.AsArray();
        Assert.DoesNotContain(users, u => u!["name"]!.GetValue<string>().StartsWith(_scaler + ":", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_instance_that_never_registers_is_terminated_at_the_spin_up_timeout_and_its_offering_backed_off()
    {
        StartCloud(boots: _ => false);
        await EnqueueAsync("waits", "true\n");
        var config = Config(c =>
        {
            c.SpinUpTimeoutSeconds = 3;
            c.Resources["cpu"].Markets = [new MarketConfig { Market = Market.OnDemand, Zones = [_subnets[0]] }];
        });
        var loop = Loop(config);
        await RunAsync(loop, async () =>
            await Poll.UntilAsync(EventsAsync, l => l.Any(e => Field(e, "reason") == Reasons.SpinUpTimeout), TimeSpan.FromSeconds(30), "a spin-up timeout"));

        var instances = await _cloud.InstancesAsync();
        var launched = Assert.Single(instances);
        Assert.Equal("terminated", launched.State.Name.Value);
        Assert.Contains(loop.State.Backoffs.Keys, k => k == $"t3.micro/{_subnets[0]}/on_demand");
        // Nothing else to try: the task waits rather than a second instance being started in the backed-off subnet.
        Assert.Single(await EventsAsync(), e => Field(e, "action") == "launch");
        // Its token went with it.
        var userData = await _cloud.UserDataAsync(launched.InstanceId);
        var token = userData.Split('\n').Single(l => l.StartsWith(Ec2UserData.TokenVariable + "=", StringComparison.Ordinal)).Split('\'')[1];
        var refused = await Assert.ThrowsAsync<SlipwayException>(() =>
            Slipway.Agent.AgentEnrollment.ExchangeAsync(_server.Server.ApiUrl, token, null, TimeSpan.FromSeconds(5), default));
        Assert.Equal(401, refused.ResultCode);
    }

    [Fact]
    public async Task Capacity_errors_for_spot_in_one_subnet_then_the_other_fall_back_to_the_next_subnet_then_on_demand()
    {
        StartCloud();
        var (a, b) = (_subnets[0], _subnets[1]);
        _faults.Refuse("RunInstances", f => f.GetValueOrDefault("InstanceMarketOptions.MarketType") == "spot" && f.GetValueOrDefault("SubnetId") == a,
            "InsufficientInstanceCapacity", System.Net.HttpStatusCode.InternalServerError);
        _faults.Refuse("RunInstances", f => f.GetValueOrDefault("InstanceMarketOptions.MarketType") == "spot" && f.GetValueOrDefault("SubnetId") == b, "SpotMaxPriceTooLow");
        var task = await EnqueueAsync("falls-back", "true\n");
        var config = Config(c => c.Resources["cpu"].Markets =
        [
            new MarketConfig { Market = Market.Spot, Zones = [a, b] },
            new MarketConfig { Market = Market.OnDemand, Zones = [a] },
        ]);
        await RunAsync(Loop(config), () => WaitForStatusAsync(task, "completed", 90));

        var events = await EventsAsync();
        var failed = events.Where(e => Field(e, "action") == "launchfailed").ToList();
        Assert.Equal(2, failed.Count);
        Assert.All(failed, e => Assert.Equal(Reasons.CapacityError, Field(e, "reason")));
        Assert.Contains("InsufficientInstanceCapacity", Field(failed[0], "detail"), StringComparison.Ordinal);
        Assert.Contains("SpotMaxPriceTooLow", Field(failed[1], "detail"), StringComparison.Ordinal);
        var ran = Assert.Single(await _cloud.InstancesAsync());
        Assert.Null(ran.InstanceLifecycle?.Value); // on-demand
        Assert.Equal(a, ran.SubnetId);
        Assert.Equal(3, _faults.Count("RunInstances"));
    }

    [Fact]
    public async Task A_spot_instance_terminated_out_of_band_has_its_task_requeued_at_once_and_finished_by_a_replacement()
    {
        StartCloud();
        var marker = Path.Combine(_root, "runs.txt");
        var flag = Path.Combine(_root, "first-run");
        Directory.CreateDirectory(_root);
        var task = await EnqueueAsync("victim", $"echo start >> {marker}\nif [ ! -e {flag} ]; then touch {flag}; sleep 120; fi\necho done >> {marker}\n");
        var config = Config(c => c.Resources["cpu"].Markets = [new MarketConfig { Market = Market.Spot }]);
        await RunAsync(Loop(config), async () =>
        {
            await WaitForStatusAsync(task, "in_progress");
            await Poll.UntilAsync(() => Task.FromResult(File.Exists(flag)), x => x, TimeSpan.FromSeconds(30), "the first run started");
            var victim = Assert.Single(await LiveAsync());
            Assert.Equal("spot", victim.InstanceLifecycle?.Value);
            // The reclaim: EC2 ends the instance; the machine (and its agent) is gone with it.
            await _cloud.Ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [victim.InstanceId] });
            await WaitForStatusAsync(task, "completed", 90);
        });

        Assert.Equal(["start", "start", "done"], File.ReadAllLines(marker));
        var events = await EventsAsync();
        var lost = Assert.Single(events, e => Field(e, "action") == "lost");
        Assert.Contains("terminated", Field(lost, "detail"), StringComparison.Ordinal);
        Assert.Single(events, e => Field(e, "action") == "requeuetask");
        Assert.Equal(2, events.Count(e => Field(e, "action") == "launch"));
    }

    [Fact]
    public async Task A_restarted_autoscaler_adopts_its_running_instance_and_terminates_a_stray_one_launching_nothing()
    {
        StartCloud();
        var config = Config(c => c.Resources["cpu"].MinInstances = 1);
        var first = Loop(config);
        await RunAsync(first, () => Poll.UntilAsync(() => Task.FromResult(first.State.Live.Count(r => r.Status == InstanceStatus.Ready)), n => n == 1,
            TimeSpan.FromSeconds(60), "the min instance registered"));
        var kept = Assert.Single(await LiveAsync());

        // A tagged instance nothing explains (a launch whose answer was lost), and a restart that lost its state as well.
        var stray = (await _cloud.Ec2.RunInstancesAsync(new RunInstancesRequest
        {
            ImageId = "ami-03cf127a", InstanceType = "t3.micro", MinCount = 1, MaxCount = 1,
            TagSpecifications = [new TagSpecification { ResourceType = "instance", Tags = [new Tag(ProviderTags.Scaler, _scaler), new Tag(ProviderTags.LaunchId, "stray00000"), new Tag(ProviderTags.Resource, "cpu")] }],
        })).Reservation.Instances[0].InstanceId;
        await _client.CallAsync("autoscaler.set_state", new JsonObject { ["scaler"] = _scaler, ["state"] = new JsonObject() });
        var launchesBefore = _faults.Count("RunInstances");

        var second = Loop(config);
        await RunAsync(second, async () =>
        {
            await Poll.UntilAsync(async () => (await _cloud.InstancesAsync()).Single(i => i.InstanceId == stray).State.Name.Value, s => s == "terminated",
                TimeSpan.FromSeconds(30), "the stray instance terminated");
            await Poll.UntilAsync(() => Task.FromResult(second.State.Live.Count()), n => n == 1, TimeSpan.FromSeconds(30), "the running instance adopted");
            // A few more passes: nothing is doubled.
            var passes = _faults.Count("DescribeInstances");
            await Poll.UntilAsync(() => Task.FromResult(_faults.Count("DescribeInstances")), n => n >= passes + 4, TimeSpan.FromSeconds(30), "four more passes");
        });

        Assert.Equal(launchesBefore, _faults.Count("RunInstances"));
        Assert.Equal([kept.InstanceId], (await LiveAsync()).Select(i => i.InstanceId));
        var events = await EventsAsync();
        Assert.Contains(events, e => Field(e, "action") == "adopt" && Field(e, "instance_id") == kept.InstanceId);
        Assert.Contains(events, e => Field(e, "action") == "terminate" && Field(e, "reason") == Reasons.Orphan && Field(e, "instance_id") == stray);
    }

    [Fact]
    public async Task Throttling_refused_credentials_and_an_unreadable_launch_answer_do_nothing_harmful_and_leak_no_instance()
    {
        StartCloud(boots: _ => false);
        await EnqueueAsync("waits", "true\n");
        var config = Config(c => c.BackoffSeconds = 1);
        var loop = Loop(config);
        await loop.StartAsync(default);

        _faults.Refuse("DescribeInstances", _ => true, "RequestLimitExceeded", System.Net.HttpStatusCode.ServiceUnavailable);
        var throttled = await Assert.ThrowsAsync<ProviderException>(() => loop.RunOnceAsync(default));
        Assert.Contains("throttled", throttled.Message, StringComparison.Ordinal);
        Assert.Equal(0, _faults.Count("RunInstances"));
        _faults.Clear();

        _faults.Refuse("RunInstances", _ => true, "AuthFailure", System.Net.HttpStatusCode.Unauthorized);
        var refused = await loop.RunOnceAsync(default);
        var failure = Assert.Single(refused, d => d.Action == DecisionAction.LaunchFailed);
        Assert.Equal(Reasons.ProviderError, failure.Reason);
        Assert.Contains("credentials refused", failure.Detail, StringComparison.Ordinal);
        Assert.Empty(await _cloud.InstancesAsync());
        _faults.Clear();

        // The launch happened, but its answer could not be read: the next passes find it by its tags and terminate it.
        await Poll.UntilAsync(() => Task.FromResult(loop.State.Backoffs.Values.All(until => until <= DateTimeOffset.UtcNow)), over => over, TimeSpan.FromSeconds(10), "the backoff over");
        _faults.Garble("RunInstances");
        var garbled = await loop.RunOnceAsync(default);
        Assert.Contains(garbled, d => d.Action == DecisionAction.LaunchFailed);
        _faults.Clear();
        var leaked = Assert.Single(await LiveAsync());
        var cleanup = await loop.RunOnceAsync(default);
        Assert.Contains(cleanup, d => d.Action == DecisionAction.Terminate && d.Reason == Reasons.Orphan && d.InstanceId == leaked.InstanceId);
        Assert.Empty(await LiveAsync());
    }
}
