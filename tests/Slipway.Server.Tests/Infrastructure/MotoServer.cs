using System.Diagnostics;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Slipway.Server.Blobs;

namespace Slipway.Server.Tests.Infrastructure;

/// <summary>
/// An S3-compatible server on loopback for the tests: SLIPWAY_TEST_S3 (an endpoint URL) if set, else moto's
/// server started once per test run from the machine's Python (SLIPWAY_TEST_PYTHON, else python3), stopped when the run ends. Each test gets its own bucket.
/// </summary>
public static class MotoServer
{
    private static readonly Lazy<string> Endpoint = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    public static async Task<S3Location> CreateBucketAsync()
    {
        var location = new S3Location("t-" + Guid.NewGuid().ToString("N")[..16], "files/", Endpoint.Value, "us-east-1", "test", "test", PathStyle: true);
        using var s3 = new AmazonS3Client(new BasicAWSCredentials("test", "test"), new AmazonS3Config { ServiceURL = location.Endpoint, ForcePathStyle = true });
        await s3.PutBucketAsync(location.Bucket);
        return location;
    }

    private static string Start()
    {
        if (Environment.GetEnvironmentVariable("SLIPWAY_TEST_S3") is { Length: > 0 } given)
            return given;
        var port = PostgresCluster.FreePort();
        var python = Environment.GetEnvironmentVariable("SLIPWAY_TEST_PYTHON") is { Length: > 0 } chosen ? chosen : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-m", "moto.server", "-H", "127.0.0.1", "-p", port.ToString() })
            start.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("S3 tests need SLIPWAY_TEST_S3 or python3 with moto installed (python3 -m moto.server).", e);
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
