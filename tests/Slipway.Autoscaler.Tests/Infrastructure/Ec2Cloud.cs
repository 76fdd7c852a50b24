using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>
/// Plays the cloud's part for instances in the EC2 stand-in, which launches nothing: each instance of the autoscaler that
/// shows up has its user-data read back (DescribeInstanceAttribute userData) and run as its boot, unprivileged (its own
/// folder; a <c>slipway</c> on PATH that is this build; a <c>shutdown</c> that asks the harness to end the instance, as
/// InstanceInitiatedShutdownBehavior=terminate does), with its output kept as the instance's console. When the instance is
/// terminated, its processes are killed with SIGKILL, as a machine that goes away would.
/// </summary>
public sealed class Ec2Cloud : IAsyncDisposable
{
    private readonly AmazonEC2Client _ec2 = MotoEc2.Client();
    private readonly string _scaler;
    private readonly Func<Instance, bool> _boots;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;
    private readonly ConcurrentDictionary<string, Booted> _booted = new(StringComparer.Ordinal);
    private readonly string _bin;

    public sealed record Booted(string InstanceId, string Directory, Process Shell, string UserData)
    {
        public string Console => File.Exists(System.IO.Path.Combine(Directory, "console.log")) ? File.ReadAllText(System.IO.Path.Combine(Directory, "console.log")) : "";
    }

    /// <param name="boots">Which instances get a boot (false: one that never comes up, for spin-up timeouts).</param>
    public Ec2Cloud(string scaler, string root, Func<Instance, bool>? boots = null)
    {
        _scaler = scaler;
        Root = root;
        _boots = boots ?? (_ => true);
        _bin = Path.Combine(root, "bin");
        Directory.CreateDirectory(_bin);
        var slipway = Path.Combine(AppContext.BaseDirectory, "slipway.dll");
        Write(Path.Combine(_bin, "slipway"), $"#!/bin/sh\nexec dotnet '{slipway}' \"$@\"\n");
        Write(Path.Combine(_bin, "shutdown"), "#!/bin/sh\necho \"shutdown $*\" > \"$SLIPWAY_AGENT_DIR/shutdown-requested\"\n");
        _watch = Task.Run(WatchAsync);
    }

    public string Root { get; }

    /// <summary>Every instance that has booted, by instance id (with its user-data and console).</summary>
    public IReadOnlyDictionary<string, Booted> BootedInstances => _booted;

    public AmazonEC2Client Ec2 => _ec2;

    /// <summary>The autoscaler's instances as the stand-in lists them, every state.</summary>
    public async Task<List<Instance>> InstancesAsync()
    {
        var found = new List<Instance>();
        string? next = null;
        do
        {
            var page = await _ec2.DescribeInstancesAsync(new DescribeInstancesRequest { Filters = [new Filter($"tag:{ProviderTags.Scaler}", [_scaler])], NextToken = next });
            found.AddRange((page.Reservations ?? []).SelectMany(r => r.Instances ?? []));
            next = string.IsNullOrEmpty(page.NextToken) ? null : page.NextToken;
        }
        while (next is not null);
        return found;
    }

    public async Task<string> UserDataAsync(string instanceId)
    {
        var attribute = await _ec2.DescribeInstanceAttributeAsync(new DescribeInstanceAttributeRequest { InstanceId = instanceId, Attribute = InstanceAttributeName.UserData });
        return attribute.InstanceAttribute?.UserData is { Length: > 0 } encoded ? Encoding.UTF8.GetString(Convert.FromBase64String(encoded)) : "";
    }

    private async Task WatchAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                foreach (var instance in await InstancesAsync())
                {
                    var state = instance.State?.Name?.Value;
                    if (state is "pending" or "running" && !_booted.ContainsKey(instance.InstanceId) && _boots(instance))
                        await BootAsync(instance);
                    else if (state is "shutting-down" or "terminated" or "stopped" && _booted.TryGetValue(instance.InstanceId, out var gone) && !gone.Shell.HasExited)
                        ProcessKill.TreeWithSigkill(gone.Shell.Id);
                    if (_booted.TryGetValue(instance.InstanceId, out var booted) && state is "running" or "pending"
                        && File.Exists(Path.Combine(booted.Directory, "shutdown-requested")))
                        await _ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = [instance.InstanceId] });
                }
            }
            catch (Exception e) when (e is AmazonEC2Exception or HttpRequestException or IOException)
            {
            }
            try
            {
                await Task.Delay(200, _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private async Task BootAsync(Instance instance)
    {
        var userData = await UserDataAsync(instance.InstanceId);
        var dir = Path.Combine(Root, instance.InstanceId);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "user-data.sh"), userData);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = dir };
        foreach (var arg in new[] { "-c", "exec sh ./user-data.sh >console.log 2>&1 </dev/null" })
            start.ArgumentList.Add(arg);
        start.Environment["PATH"] = _bin + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment[Ec2UserData.AgentDirectoryVariable] = dir;
        start.Environment[Ec2UserData.MetadataVariable] = "http://127.0.0.1:9";
        // A booting machine has none of the test host's credentials.
        foreach (var key in new[] { "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY", "CLEARML_API_HOST", "CLEARML_CONFIG_FILE" })
            start.Environment.Remove(key);
        start.Environment["HOME"] = dir;
        var shell = Process.Start(start) ?? throw new InvalidOperationException("the boot did not start");
        _booted[instance.InstanceId] = new Booted(instance.InstanceId, dir, shell, userData);
    }

    private static void Write(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _watch;
        foreach (var booted in _booted.Values.Where(b => !b.Shell.HasExited))
            ProcessKill.TreeWithSigkill(booted.Shell.Id);
        try
        {
            var live = (await InstancesAsync()).Where(i => i.State?.Name?.Value is "pending" or "running").Select(i => i.InstanceId).ToList();
            if (live.Count > 0)
                await _ec2.TerminateInstancesAsync(new TerminateInstancesRequest { InstanceIds = live });
        }
        catch (AmazonEC2Exception)
        {
        }
        _ec2.Dispose();
        _stop.Dispose();
        foreach (var booted in _booted.Values)
            booted.Shell.Dispose();
    }
}
