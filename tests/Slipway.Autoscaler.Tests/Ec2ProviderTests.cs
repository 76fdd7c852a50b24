using System.Net;
using System.Text;
using Amazon.EC2.Model;
using Slipway.Autoscaler.Tests.Infrastructure;

namespace Slipway.Autoscaler.Tests;

/// <summary>The EC2 provider's calls against moto's EC2 on loopback, its launch request field by field, its boot script, and its configuration checks.</summary>
public sealed class Ec2ProviderTests : IDisposable
{
    private const string Ami = "ami-03cf127a";
    private readonly string _scaler = "ec2p" + Guid.NewGuid().ToString("N")[..8];
    private readonly Ec2Faults _faults = new();
    private readonly Amazon.EC2.AmazonEC2Client _ec2;

    public Ec2ProviderTests() => _ec2 = MotoEc2.Client(_faults);

    public void Dispose() => _ec2.Dispose();

    /// <summary>Hands out a fixed token: the server's side is tested with a real server in <see cref="EnrollmentTests"/>.</summary>
    private sealed class FixedIssuer : IEnrollmentIssuer
    {
        public const string Token = "ABCDEFGHIJKLMNOPQRST.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV";
        public List<(string Launch, TimeSpan Lifetime)> Issued { get; } = [];

        public Task<Enrollment> IssueAsync(string scaler, string launchId, string workerPrefix, TimeSpan lifetime, CancellationToken ct)
        {
            Issued.Add((launchId, lifetime));
            return Task.FromResult(new Enrollment(Token, DateTimeOffset.UtcNow + lifetime));
        }
    }

    private AutoscalerConfig Config(Action<Ec2ProviderConfig>? change = null)
    {
        var config = new AutoscalerConfig
        {
            Name = _scaler, SpinUpTimeoutSeconds = 600,
            Ec2 = new Ec2ProviderConfig { Region = MotoEc2.Region, EndpointUrl = MotoEc2.Endpoint, Ami = Ami, Tags = { ["team"] = "ml" } },
        };
        config.Queues["q"] = ["gpu"];
        config.Resources["gpu"] = new ResourceConfig
        {
            Provider = "ec2", MachineType = "t3.micro", MaxInstances = 3,
            Markets = [new MarketConfig { Market = Market.Spot }, new MarketConfig { Market = Market.OnDemand }],
        };
        change?.Invoke(config.Ec2);
        return config;
    }

    private Ec2Provider Provider(AutoscalerConfig config, FixedIssuer? issuer = null) =>
        new(config, issuer ?? new FixedIssuer(), new Uri("http://slipway.test:8008"), _ec2);

    private LaunchRequest Request(string market = Market.OnDemand, string? zone = null) =>
        new(_scaler, Guid.NewGuid().ToString("N")[..10], "gpu", "t3.micro", new Offering("t3.micro", zone, market), 2, ["q", "q2"]);

    private async Task<List<string>> SubnetsAsync() =>
        (await _ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest())).Subnets.OrderBy(s => s.AvailabilityZone).Select(s => s.SubnetId).Take(2).ToList();

    private async Task<Instance> DescribeAsync(string id) =>
        (await _ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = [id] })).Reservations.SelectMany(r => r.Instances).Single();

    [Fact]
    public async Task A_launch_is_tagged_with_its_identity_requires_IMDSv2_and_boots_the_agent_with_only_a_one_time_token()
    {
        var issuer = new FixedIssuer();
        var config = Config();
        var provider = Provider(config, issuer);
        var subnet = (await SubnetsAsync())[0];
        var request = Request(Market.Spot, subnet);
        var id = await provider.LaunchAsync(request, default);

        var instance = await DescribeAsync(id);
        var tags = instance.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(_scaler, tags[ProviderTags.Scaler]);
        Assert.Equal(request.LaunchId, tags[ProviderTags.LaunchId]);
        Assert.Equal("gpu", tags[ProviderTags.Resource]);
        Assert.Equal(Market.Spot, tags[ProviderTags.Market]);
        Assert.Equal("ml", tags["team"]);
        Assert.Equal("required", instance.MetadataOptions.HttpTokens.Value);
        Assert.Equal("spot", instance.InstanceLifecycle?.Value);
        Assert.Equal(subnet, instance.SubnetId);
        Assert.Equal(Ami, instance.ImageId);
        // The token lives as long as the spin-up timeout.
        Assert.Equal((request.LaunchId, TimeSpan.FromSeconds(600)), Assert.Single(issuer.Issued));

        var form = _faults.Calls.Last(c => c.Action == "RunInstances").Form;
        Assert.Equal("terminate", form["InstanceInitiatedShutdownBehavior"]);
        Assert.Equal($"{_scaler}-{request.LaunchId}", form["ClientToken"]);
        Assert.Equal("volume", form["TagSpecification.2.ResourceType"]);
        Assert.Equal("one-time", form["InstanceMarketOptions.SpotOptions.SpotInstanceType"]);

        var attribute = await _ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = id, Attribute = "userData" });
        var script = Encoding.UTF8.GetString(Convert.FromBase64String(attribute.InstanceAttribute.UserData));
        Assert.StartsWith("#!/bin/sh\n", script, StringComparison.Ordinal);
        Assert.Contains(FixedIssuer.Token, script, StringComparison.Ordinal);
        Assert.Contains("'--enroll-server' 'http://slipway.test:8008'", script, StringComparison.Ordinal);
        Assert.Contains($"'--worker-id' '{request.WorkerPrefix}'", script, StringComparison.Ordinal);
        Assert.Contains("'--queue' 'q' '--queue' 'q2'", script, StringComparison.Ordinal);
        Assert.Contains("'--watch-spot-notice'", script, StringComparison.Ordinal); // a spot launch's agent watches for the reclaim
        Assert.Contains("X-aws-ec2-metadata-token", script, StringComparison.Ordinal);
        Assert.DoesNotContain("set -x", script, StringComparison.Ordinal);
        Assert.DoesNotContain("CLEARML_API_SECRET_KEY", script, StringComparison.Ordinal);
        Assert.DoesNotContain("CLEARML_API_ACCESS_KEY", script, StringComparison.Ordinal);
        // The token is not a command-line argument (ps shows those to every user of the machine).
        Assert.DoesNotContain(script.Split('\n'), l => l.Contains("agent", StringComparison.Ordinal) && l.Contains(FixedIssuer.Token, StringComparison.Ordinal));
        await provider.TerminateAsync(id, default);
    }

    [Fact]
    public async Task Instances_are_listed_by_tag_with_their_state_and_terminating_twice_or_an_unknown_id_is_not_an_error()
    {
        var provider = Provider(Config());
        var first = await provider.LaunchAsync(Request(), default);
        var second = await provider.LaunchAsync(Request(zone: "us-east-1b"), default);
        Assert.Equal("us-east-1b", (await DescribeAsync(second)).Placement.AvailabilityZone);
        var other = Provider(new AutoscalerConfig { Name = "someone-else", Ec2 = Config().Ec2 });

        var listed = await provider.ListAsync(_scaler, default);
        Assert.Equal(new[] { first, second }.Order(), listed.Select(i => i.InstanceId).Order());
        Assert.All(listed, i => Assert.Contains(i.State, new[] { ProviderInstanceState.Pending, ProviderInstanceState.Running }));
        Assert.DoesNotContain(await other.ListAsync("someone-else", default), i => i.InstanceId == first);

        await provider.TerminateAsync(first, default);
        await provider.TerminateAsync(first, default);
        await provider.TerminateAsync("i-0123456789abcdef0", default);
        var gone = (await provider.ListAsync(_scaler, default)).Single(i => i.InstanceId == first);
        Assert.Equal(ProviderInstanceState.Gone, gone.State);
        Assert.Contains("terminated", gone.Detail, StringComparison.Ordinal);
        Assert.Contains("UserInitiatedShutdown", gone.Detail, StringComparison.Ordinal);
        await provider.TerminateAsync(second, default);
    }

    [Theory]
    [InlineData("InsufficientInstanceCapacity", HttpStatusCode.InternalServerError)]
    [InlineData("SpotMaxPriceTooLow", HttpStatusCode.BadRequest)]
    [InlineData("MaxSpotInstanceCountExceeded", HttpStatusCode.BadRequest)]
    [InlineData("Unsupported", HttpStatusCode.BadRequest)]
    [InlineData("InsufficientCapacity", HttpStatusCode.InternalServerError)]
    public async Task A_capacity_refusal_makes_the_offering_unavailable_and_starts_nothing(string code, HttpStatusCode status)
    {
        var provider = Provider(Config());
        _faults.Refuse("RunInstances", f => f.GetValueOrDefault("InstanceMarketOptions.MarketType") == "spot", code, status);
        var e = await Assert.ThrowsAsync<OfferingUnavailableException>(() => provider.LaunchAsync(Request(Market.Spot), default));
        Assert.Contains(code, e.Message, StringComparison.Ordinal);
        Assert.Contains("t3.micro/*/spot", e.Message, StringComparison.Ordinal);
        Assert.Empty(await provider.ListAsync(_scaler, default));
    }

    [Theory]
    [InlineData("DescribeInstances", "RequestLimitExceeded", HttpStatusCode.ServiceUnavailable, "throttled")]
    [InlineData("DescribeInstances", "AuthFailure", HttpStatusCode.Unauthorized, "credentials refused")]
    [InlineData("RunInstances", "UnauthorizedOperation", HttpStatusCode.Forbidden, "credentials refused")]
    [InlineData("TerminateInstances", "RequestLimitExceeded", HttpStatusCode.ServiceUnavailable, "throttled")]
    public async Task Throttling_and_refused_credentials_are_a_clear_provider_error(string action, string code, HttpStatusCode status, string said)
    {
        var provider = Provider(Config());
        _faults.Refuse(action, _ => true, code, status);
        var e = await Assert.ThrowsAsync<ProviderException>(() => action switch
        {
            "DescribeInstances" => provider.ListAsync(_scaler, default),
            "RunInstances" => provider.LaunchAsync(Request(), default),
            _ => provider.TerminateAsync("i-0123456789abcdef0", default),
        });
        Assert.Contains($"EC2 {action}", e.Message, StringComparison.Ordinal);
        Assert.Contains(said, e.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was done", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_launch_whose_answer_cannot_be_read_is_a_provider_error_and_the_instance_it_started_is_listed_for_cleanup()
    {
        var provider = Provider(Config());
        _faults.Garble("RunInstances");
        var e = await Assert.ThrowsAsync<ProviderException>(() => provider.LaunchAsync(Request(), default));
        Assert.Contains("EC2 RunInstances", e.Message, StringComparison.Ordinal);
        _faults.Clear();
        // The tags went with the launch, so the reconciler finds it (an orphan) and terminates it: nothing leaks.
        var leaked = Assert.Single(await provider.ListAsync(_scaler, default));
        await provider.TerminateAsync(leaked.InstanceId, default);
    }

    [Fact]
    public void The_launch_request_names_the_profile_key_security_groups_and_root_volume()
    {
        var provider = Provider(Config(e =>
        {
            e.InstanceProfile = "arn:aws:iam::123456789012:instance-profile/slipway";
            e.KeyName = "ops";
            e.SecurityGroupIds = ["sg-0abc1234"];
            e.VolumeSizeGib = 200;
        }));
        var launch = provider.BuildRequest(Request(zone: "subnet-0abc12345"), "#!/bin/sh\n");
        Assert.Equal("arn:aws:iam::123456789012:instance-profile/slipway", launch.IamInstanceProfile.Arn);
        Assert.Null(launch.IamInstanceProfile.Name);
        Assert.Equal("ops", launch.KeyName);
        Assert.Equal(["sg-0abc1234"], launch.SecurityGroupIds);
        Assert.Equal("subnet-0abc12345", launch.SubnetId);
        Assert.Null(launch.Placement);
        Assert.Equal(200, launch.BlockDeviceMappings.Single().Ebs.VolumeSize);
        Assert.True(launch.BlockDeviceMappings.Single().Ebs.DeleteOnTermination);
        Assert.Null(launch.InstanceMarketOptions);
        Assert.Equal(["instance", "volume"], launch.TagSpecifications.Select(t => t.ResourceType.Value));
        Assert.All(launch.TagSpecifications, t => Assert.Contains(t.Tags, x => x.Key == ProviderTags.LaunchId));
        Assert.Equal("slipway", Provider(Config(e => e.InstanceProfile = "slipway")).BuildRequest(Request(), "").IamInstanceProfile.Name);
    }

    [Fact]
    public void A_bad_ec2_section_is_refused_with_every_problem_named()
    {
        var config = Config(e =>
        {
            e.Region = "mars";
            e.Ami = "image-1";
            e.EndpointUrl = "not a url";
            e.SecurityGroupIds = ["default"];
            e.Subnets = ["net-1"];
            e.Tags["slipway:autoscaler"] = "x";
            e.SetupCommands = ["set -x", "apt-get install -y slipway"];
        });
        config.Resources["gpu"].MachineType = "big";
        config.Resources["gpu"].Markets[0].Zones = ["eu-west-1a"];
        var problems = config.Problems(["local", "ec2"]);
        foreach (var expected in new[]
                 {
                     "ec2.region", "ec2.ami", "ec2.endpoint_url", "ec2.security_group_ids: 'default'", "ec2.subnets: 'net-1'", "ec2.tags: 'slipway:autoscaler'",
                     "ec2.setup_commands: 'set -x'", "resources.gpu.machine_type: 'big'", "resources.gpu.markets.spot.zones: 'eu-west-1a'",
                 })
            Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));

        var missing = new AutoscalerConfig { Queues = { ["q"] = ["gpu"] }, Resources = { ["gpu"] = new ResourceConfig { Provider = "ec2", MachineType = "g5.xlarge" } } };
        Assert.Contains(missing.Problems(["local", "ec2"]), p => p.StartsWith("ec2: resources gpu use provider ec2, but there is no ec2 section", StringComparison.Ordinal));
        Assert.Empty(Config().Problems(["local", "ec2"]));
    }

    [Theory]
    [InlineData("aws1", "g5", "ec2")]
    [InlineData("box1", "cpu", "local")]
    public void The_READMEs_examples_are_valid_configurations(string name, string resource, string provider)
    {
        var readme = File.ReadAllText(Path.Combine(Repository(), "README.md"));
        var start = readme.IndexOf($"{{\n  \"name\": \"{name}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, $"the README has the {name} example");
        var json = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        var config = AutoscalerConfig.Parse(json);
        Assert.Empty(config.Problems(["local", "ec2"]));
        Assert.Equal(provider, config.Resources[resource].Provider);

        static string Repository()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Slipway.slnx")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("not inside the repository");
        }
    }

    [Fact]
    public async Task Console_output_read_for_diagnosis_comes_back_as_text()
    {
        var provider = Provider(Config());
        var id = await provider.LaunchAsync(Request(), default);
        var console = await provider.ConsoleOutputAsync(id, default);
        Assert.Contains("Linux", console, StringComparison.Ordinal); // moto's canned boot log
        Assert.DoesNotContain(FixedIssuer.Token, console, StringComparison.Ordinal);
        await provider.TerminateAsync(id, default);
    }

    [Fact]
    public void Console_output_is_redacted_of_tokens_and_keys()
    {
        var text = $"cloud-init: SLIPWAY_ENROLLMENT_TOKEN='{FixedIssuer.Token}'\nexport CLEARML_API_SECRET_KEY=s3cr3tvalue123\nagent started\ntoken {FixedIssuer.Token} end";
        var redacted = Ec2UserData.Redact(text);
        Assert.DoesNotContain(FixedIssuer.Token, redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3tvalue123", redacted, StringComparison.Ordinal);
        Assert.Contains("agent started", redacted, StringComparison.Ordinal);
        Assert.Contains("CLEARML_API_SECRET_KEY=[redacted]", redacted, StringComparison.Ordinal);
    }
}
