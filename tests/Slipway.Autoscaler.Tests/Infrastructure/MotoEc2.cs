using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.EC2;
using Amazon.Runtime;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>
/// An EC2 stand-in on loopback: SLIPWAY_TEST_EC2 (an endpoint URL) if set, else moto's server started once per test run
/// from the machine's Python (SLIPWAY_TEST_PYTHON, else python3) and stopped when the run ends. Tests keep apart by the
/// autoscaler name their instances are tagged with.
/// </summary>
public static class MotoEc2
{
    public const string Region = "us-east-1";

    private static readonly Lazy<string> Started = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Endpoint => Started.Value;

    /// <summary>A real SDK client for the stand-in; <paramref name="faults"/> answers chosen calls with EC2 errors instead.</summary>
    public static AmazonEC2Client Client(Ec2Faults? faults = null)
    {
        var settings = new AmazonEC2Config { ServiceURL = Endpoint, AuthenticationRegion = Region, MaxErrorRetry = 0 };
        if (faults is not null)
            settings.HttpClientFactory = faults;
        return new AmazonEC2Client(new BasicAWSCredentials("test", "test"), settings);
    }

    private static string Start()
    {
        if (Environment.GetEnvironmentVariable("SLIPWAY_TEST_EC2") is { Length: > 0 } given)
            return given;
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var python = Environment.GetEnvironmentVariable("SLIPWAY_TEST_PYTHON") is { Length: > 0 } chosen ? chosen : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-m", "moto.server", "-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("EC2 tests need SLIPWAY_TEST_EC2 or python3 with moto installed (python3 -m moto.server).", e);
        }
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AfterThisProcess($"kill {process.Id}");
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
                using var connect = new TcpClient("127.0.0.1", port);
                return $"http://127.0.0.1:{port}";
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
        throw new TimeoutException("moto's server did not start");
    }

    /// <summary>Runs a cleanup once this test host is gone, however it ended (a watcher in its own session polls its pid).</summary>
    private static void AfterThisProcess(string shellCleanup)
    {
        var watch = $"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; {shellCleanup}";
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var arg in new[] { "sh", "-c", watch })
            start.ArgumentList.Add(arg);
        using var watcher = Process.Start(start);
    }
}
