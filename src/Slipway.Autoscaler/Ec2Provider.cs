using System.Text;
using Amazon;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;

namespace Slipway.Autoscaler;

/// <summary>
/// Instances are EC2 VMs, launched with RunInstances and found again by their tags (DescribeInstances), never by memory.
/// Each launch carries its identity as instance and volume tags, boots a script that starts <c>slipway agent</c> with a
/// one-time enrollment token (no long-lived key), requires IMDSv2, and terminates itself on shutdown. Capacity refusals
/// become <see cref="OfferingUnavailableException"/> (the reconciler backs that offering off and tries the next); anything
/// else the API answers (throttling, refused credentials, a malformed reply) becomes a <see cref="ProviderException"/>.
/// </summary>
public sealed class Ec2Provider : IComputeProvider, IDisposable
{
    public const string ProviderName = "ec2";

    /// <summary>Error codes that mean "not this offering now": another type, zone, subnet or market may well work.</summary>
    public static readonly IReadOnlySet<string> CapacityErrors = new HashSet<string>(StringComparer.Ordinal)
    {
        "InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity", "InsufficientReservedInstanceCapacity",
        "InsufficientFreeAddressesInSubnet", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded", "Unsupported", "UnfulfillableCapacity",
        "VcpuLimitExceeded", "InstanceLimitExceeded",
    };

    private static readonly HashSet<string> GoneStates = ["shutting-down", "terminated", "stopping", "stopped"];

    private readonly AutoscalerConfig _config;
    private readonly Ec2ProviderConfig _ec2;
    private readonly IAmazonEC2 _client;
    private readonly bool _ownsClient;
    private readonly IEnrollmentIssuer _enrollments;
    private readonly Uri _server;

    /// <param name="config">The autoscaler's configuration: its ec2 section, and the spin-up timeout that enrollment tokens expire with.</param>
    /// <param name="client">The EC2 client (default: one made from the ec2 section with the SDK's credential chain).</param>
    /// <param name="enrollments">Where one-time enrollment tokens come from (the server).</param>
    /// <param name="server">The server's API address as this process knows it; ec2.server_url overrides it for the instances.</param>
    public Ec2Provider(AutoscalerConfig config, IEnrollmentIssuer enrollments, Uri server, IAmazonEC2? client = null)
    {
        _config = config;
        _ec2 = config.Ec2 ?? throw new ArgumentException("the configuration has no ec2 section", nameof(config));
        _enrollments = enrollments;
        _server = _ec2.ServerUrl is { } url ? new Uri(url) : server;
        _ownsClient = client is null;
        _client = client ?? CreateClient(_ec2);
    }

    public string Name => ProviderName;

    /// <summary>An EC2 client for the section's region (and endpoint, when it names one), with the SDK's usual credential chain.</summary>
    public static AmazonEC2Client CreateClient(Ec2ProviderConfig ec2, AWSCredentials? credentials = null)
    {
        var settings = ClientSettings(ec2);
        return credentials is null ? new AmazonEC2Client(settings) : new AmazonEC2Client(credentials, settings);
    }

    public static AmazonEC2Config ClientSettings(Ec2ProviderConfig ec2)
    {
        var settings = new AmazonEC2Config { RegionEndpoint = RegionEndpoint.GetBySystemName(ec2.Region ?? "us-east-1") };
        if (ec2.EndpointUrl is { } endpoint)
        {
            settings.ServiceURL = endpoint;
            settings.AuthenticationRegion = ec2.Region;
        }
        return settings;
    }

    public async Task<string> LaunchAsync(LaunchRequest request, CancellationToken ct)
    {
        var enrollment = await _enrollments.IssueAsync(request.Scaler, request.LaunchId, request.WorkerPrefix, _config.SpinUpTimeout, ct).ConfigureAwait(false);
        var userData = Ec2UserData.Render(request, _ec2, _server, enrollment);
        var launch = BuildRequest(request, userData);
        RunInstancesResponse response;
        try
        {
            response = await _client.RunInstancesAsync(launch, ct).ConfigureAwait(false);
        }
        catch (AmazonServiceException e) when (e.ErrorCode is { } code && CapacityErrors.Contains(code))
        {
            throw new OfferingUnavailableException($"EC2 refused {request.Offering.Key}: {code}: {e.Message}");
        }
        catch (Exception e) when (IsProviderFailure(e, ct))
        {
            // Whatever did start despite the error carries the tags, so the next pass finds it and terminates it as an orphan.
            throw Failure("RunInstances", e);
        }
        var instance = response.Reservation?.Instances?.FirstOrDefault()
                       ?? throw new ProviderException("EC2 RunInstances answered without an instance (a launch that did start is found by its tags and terminated)");
        return instance.InstanceId ?? throw new ProviderException("EC2 RunInstances answered an instance without an id");
    }

    /// <summary>The RunInstances call for one launch (public so that tests can check every field the API receives).</summary>
    public RunInstancesRequest BuildRequest(LaunchRequest request, string userData)
    {
        var tags = _ec2.Tags.Select(t => new Tag(t.Key, t.Value))
            .Concat(request.Tags.Select(t => new Tag(t.Key, t.Value)))
            .Append(new Tag("Name", $"{request.Scaler}:{request.Resource}:{request.LaunchId}"))
            .ToList();
        var launch = new RunInstancesRequest
        {
            ImageId = _ec2.Ami,
            InstanceType = InstanceType.FindValue(request.MachineType),
            MinCount = 1,
            MaxCount = 1,
            // Idempotent: a retried call for the same launch never starts a second instance.
            ClientToken = $"{request.Scaler}-{request.LaunchId}",
            UserData = Convert.ToBase64String(Encoding.UTF8.GetBytes(userData)),
            InstanceInitiatedShutdownBehavior = ShutdownBehavior.Terminate,
            MetadataOptions = new InstanceMetadataOptionsRequest
            {
                HttpTokens = HttpTokensState.Required, HttpEndpoint = InstanceMetadataEndpointState.Enabled, HttpPutResponseHopLimit = 1,
            },
            TagSpecifications =
            [
                new TagSpecification { ResourceType = ResourceType.Instance, Tags = tags },
                new TagSpecification { ResourceType = ResourceType.Volume, Tags = tags.ToList() },
            ],
        };
        if (request.Offering.Zone is { } zone)
        {
            if (zone.StartsWith("subnet-", StringComparison.Ordinal))
                launch.SubnetId = zone;
            else
                launch.Placement = new Placement { AvailabilityZone = zone };
        }
        if (_ec2.SecurityGroupIds.Count > 0)
            launch.SecurityGroupIds = _ec2.SecurityGroupIds.ToList();
        if (_ec2.InstanceProfile is { } profile)
        {
            launch.IamInstanceProfile = profile.StartsWith("arn:", StringComparison.Ordinal)
                ? new IamInstanceProfileSpecification { Arn = profile }
                : new IamInstanceProfileSpecification { Name = profile };
        }
        if (_ec2.KeyName is { } key)
            launch.KeyName = key;
        if (_ec2.VolumeSizeGib is { } size)
        {
            launch.BlockDeviceMappings =
            [
                new BlockDeviceMapping
                {
                    DeviceName = _ec2.VolumeDeviceName,
                    Ebs = new EbsBlockDevice { VolumeSize = size, VolumeType = VolumeType.Gp3, DeleteOnTermination = true },
                },
            ];
        }
        if (request.Offering.Market == Market.Spot)
        {
            // A one-time spot request that ends the instance when reclaimed; the reconciler sees it gone and re-queues its task.
            launch.InstanceMarketOptions = new InstanceMarketOptionsRequest
            {
                MarketType = MarketType.Spot,
                SpotOptions = new SpotMarketOptions { SpotInstanceType = SpotInstanceType.OneTime, InstanceInterruptionBehavior = InstanceInterruptionBehavior.Terminate },
            };
        }
        return launch;
    }

    public async Task<IReadOnlyList<ProviderInstance>> ListAsync(string scaler, CancellationToken ct)
    {
        var found = new List<ProviderInstance>();
        string? next = null;
        do
        {
            DescribeInstancesResponse page;
            try
            {
                page = await _client.DescribeInstancesAsync(new DescribeInstancesRequest
                {
                    Filters = [new Filter($"tag:{ProviderTags.Scaler}", [scaler])],
                    NextToken = next,
                }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsProviderFailure(e, ct))
            {
                throw Failure("DescribeInstances", e);
            }
            foreach (var instance in (page.Reservations ?? []).SelectMany(r => r.Instances ?? []))
            {
                var tags = (instance.Tags ?? []).Where(t => t.Key is not null).GroupBy(t => t.Key).ToDictionary(g => g.Key, g => g.First().Value ?? "", StringComparer.Ordinal);
                if (instance.InstanceId is null || tags.GetValueOrDefault(ProviderTags.Scaler) != scaler || tags.GetValueOrDefault(ProviderTags.LaunchId) is not { Length: > 0 } launch)
                    continue;
                var state = instance.State?.Name?.Value ?? "unknown";
                var (mapped, detail) = state switch
                {
                    "pending" => (ProviderInstanceState.Pending, (string?)null),
                    "running" => (ProviderInstanceState.Running, null),
                    _ when GoneStates.Contains(state) => (ProviderInstanceState.Gone, GoneDetail(instance, state)),
                    _ => (ProviderInstanceState.Pending, $"state {state}"),
                };
                found.Add(new ProviderInstance(instance.InstanceId, launch, tags.GetValueOrDefault(ProviderTags.Resource) ?? "", mapped, detail));
            }
            next = page.NextToken is { Length: > 0 } token ? token : null;
        }
        while (next is not null);
        return found;
    }

    /// <summary>Why an instance went: EC2's state reason (e.g. Server.SpotInstanceTermination for a spot reclaim), with its market.</summary>
    private static string GoneDetail(Instance instance, string state)
    {
        var reason = instance.StateReason is { } r && (r.Code ?? r.Message) is not null ? $"{r.Code}: {r.Message}" : instance.StateTransitionReason;
        var spot = instance.InstanceLifecycle?.Value == "spot" ? "spot instance " : "";
        return string.IsNullOrWhiteSpace(reason) ? $"{spot}{instance.InstanceId} is {state}" : $"{spot}{instance.InstanceId} is {state} ({reason})";
    }

    public async Task TerminateAsync(string instanceId, CancellationToken ct)
    {
        try
        {
            await _client.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [instanceId] }, ct).ConfigureAwait(false);
        }
        catch (AmazonServiceException e) when (e.ErrorCode is "InvalidInstanceID.NotFound")
        {
            // Already gone: terminating is idempotent.
        }
        catch (Exception e) when (IsProviderFailure(e, ct))
        {
            throw Failure($"TerminateInstances {instanceId}", e);
        }
    }

    /// <summary>The instance's console output (cloud-init's log) for diagnosis, redacted: no token or key is shown.</summary>
    public async Task<string> ConsoleOutputAsync(string instanceId, CancellationToken ct)
    {
        try
        {
            var output = await _client.GetConsoleOutputAsync(new GetConsoleOutputRequest { InstanceId = instanceId, Latest = true }, ct).ConfigureAwait(false);
            var text = output.Output is { Length: > 0 } encoded ? Encoding.UTF8.GetString(Convert.FromBase64String(encoded)) : "";
            return Ec2UserData.Redact(text);
        }
        catch (FormatException)
        {
            return "";
        }
        catch (Exception e) when (IsProviderFailure(e, ct))
        {
            throw Failure($"GetConsoleOutput {instanceId}", e);
        }
    }

    private static bool IsProviderFailure(Exception e, CancellationToken ct) =>
        e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or System.Xml.XmlException
        || (e is OperationCanceledException && !ct.IsCancellationRequested);

    /// <summary>A clear one-line reason: what was asked, the error code, and what it means for the autoscaler.</summary>
    private static ProviderException Failure(string call, Exception e)
    {
        var what = e switch
        {
            AmazonServiceException { ErrorCode: "RequestLimitExceeded" or "Throttling" or "ThrottlingException" } s => $"throttled ({s.ErrorCode}: {s.Message})",
            AmazonServiceException { ErrorCode: "AuthFailure" or "UnauthorizedOperation" or "InvalidClientTokenId" or "SignatureDoesNotMatch" or "ExpiredToken" } s =>
                $"credentials refused ({s.ErrorCode}: {s.Message}); check the AWS credentials and the IAM policy",
            AmazonUnmarshallingException or System.Xml.XmlException => $"answer could not be read ({e.Message})",
            AmazonServiceException s => $"{s.ErrorCode ?? s.StatusCode.ToString()}: {s.Message}",
            OperationCanceledException => "timed out",
            _ => e.Message,
        };
        return new ProviderException($"EC2 {call}: {what}; nothing was done, the next pass tries again", e);
    }

    public void Dispose()
    {
        if (_ownsClient)
            _client.Dispose();
    }
}
