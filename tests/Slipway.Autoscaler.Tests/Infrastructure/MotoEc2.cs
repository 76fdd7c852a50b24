using Amazon.EC2;
using Amazon.Runtime;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>
/// SDK clients for the EC2 stand-in (the shared moto server on loopback). Tests keep apart by the autoscaler name their
/// instances are tagged with.
/// </summary>
public static class MotoEc2
{
    public const string Region = MotoServer.Region;

    public static string Endpoint => MotoServer.Ec2Endpoint;

    /// <summary>A real SDK client for the stand-in; <paramref name="faults"/> answers chosen calls with EC2 errors instead.</summary>
    public static AmazonEC2Client Client(Ec2Faults? faults = null)
    {
        var settings = new AmazonEC2Config { ServiceURL = Endpoint, AuthenticationRegion = Region, MaxErrorRetry = 0 };
        if (faults is not null)
            settings.HttpClientFactory = faults;
        return new AmazonEC2Client(new BasicAWSCredentials("test", "test"), settings);
    }
}
