using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Slipway.Server.Blobs;

namespace Slipway.TestSupport;

/// <summary>
/// The AWS stand-in on loopback for the S3 blob-store tests and the autoscaler's EC2 tests: moto's server, started once
/// per test run from the machine's Python (SLIPWAY_TEST_PYTHON, else python3) and stopped when the run ends; one moto
/// serves both APIs. SLIPWAY_TEST_S3 or SLIPWAY_TEST_EC2 (an endpoint URL) points that API elsewhere and starts nothing
/// for it.
/// </summary>
public static class MotoServer
{
    public const string Region = "us-east-1";

    private static readonly Lazy<string> Started = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string S3Endpoint => Given("SLIPWAY_TEST_S3") ?? Started.Value;

    public static string Ec2Endpoint => Given("SLIPWAY_TEST_EC2") ?? Started.Value;

    /// <summary>A fresh bucket, so each test sees only its own objects.</summary>
    public static async Task<S3Location> CreateBucketAsync()
    {
        var location = new S3Location("t-" + Guid.NewGuid().ToString("N")[..16], "files/", S3Endpoint, Region, "test", "test", PathStyle: true);
        using var s3 = new AmazonS3Client(new BasicAWSCredentials("test", "test"), new AmazonS3Config { ServiceURL = location.Endpoint, ForcePathStyle = true });
        await s3.PutBucketAsync(location.Bucket);
        return location;
    }

    private static string? Given(string variable) => Environment.GetEnvironmentVariable(variable) is { Length: > 0 } given ? given : null;

    private static string Start()
    {
        var port = LoopbackPort.Free();
        var python = Given("SLIPWAY_TEST_PYTHON") ?? "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-m", "moto.server", "-H", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                "S3 and EC2 tests need SLIPWAY_TEST_S3 / SLIPWAY_TEST_EC2 or python3 with moto installed (python3 -m moto.server).", e);
        }
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Reaper.AfterThisProcess($"kill {process.Id}");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (process.HasExited)
                throw new InvalidOperationException($"moto's server exited with {process.ExitCode}; is moto installed for python3?");
            try
            {
                using var probe = new TcpClient("127.0.0.1", port);
                return $"http://127.0.0.1:{port}";
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
        throw new TimeoutException("moto's server did not start");
    }
}
