using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Slipway.Autoscaler;

/// <summary>
/// Instances are <c>slipway agent</c> processes on this machine (a workstation with GPUs, a CI box, tests). Each launch
/// leaves a small file with its pid and tags in <see cref="Directory"/>, which is what "listing by tag" reads, so a
/// restarted autoscaler finds the agents it started; the agents run detached and outlive it.
/// </summary>
public sealed partial class LocalProvider : IComputeProvider
{
    private const int SigTerm = 15;
    private const int SigKill = 9;
    private static readonly JsonSerializerOptions FileJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly LocalProviderConfig _config;
    private readonly IReadOnlyDictionary<string, string> _environment;

    /// <param name="config">What to run.</param>
    /// <param name="directory">Where instance files and agent work directories live.</param>
    /// <param name="environment">Extra variables for the agents (the server's address and credentials, when they are not in this process's environment).</param>
    public LocalProvider(LocalProviderConfig config, string directory, IReadOnlyDictionary<string, string>? environment = null)
    {
        _config = config;
        Directory = directory;
        _environment = environment ?? new Dictionary<string, string>();
        System.IO.Directory.CreateDirectory(directory);
    }

    public string Name => "local";

    public string Directory { get; }

    /// <summary>How long a terminated agent gets to stop its task and unregister before it is killed.</summary>
    public TimeSpan TerminateGrace { get; init; } = TimeSpan.FromSeconds(10);

    public Task<string> LaunchAsync(LaunchRequest request, CancellationToken ct)
    {
        var work = Path.Combine(_config.WorkDirectory ?? Path.Combine(Directory, "work"), request.LaunchId);
        System.IO.Directory.CreateDirectory(work);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = work };
        // exec through a shell so the agent's output goes to a file and no pipe ties it to this process.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" >agent.log 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        foreach (var part in AgentCommand())
            start.ArgumentList.Add(part);
        foreach (var arg in new[] { "agent", "--worker-id", request.WorkerPrefix, "--slots", request.Slots.ToString(CultureInfo.InvariantCulture), "--work-dir", work })
            start.ArgumentList.Add(arg);
        foreach (var queue in request.Queues)
        {
            start.ArgumentList.Add("--queue");
            start.ArgumentList.Add(queue);
        }
        foreach (var arg in _config.AgentArguments)
            start.ArgumentList.Add(arg);
        foreach (var (key, value) in _environment)
            start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("the agent process did not start");
        var record = new LocalInstance(request.LaunchId, request.Resource, request.Scaler, process.Id, StartTime(process.Id), request.Tags.ToDictionary());
        File.WriteAllText(FileOf(request.Scaler, request.LaunchId), JsonSerializer.Serialize(record, FileJson));
        return Task.FromResult(InstanceId(record));
    }

    public Task<IReadOnlyList<ProviderInstance>> ListAsync(string scaler, CancellationToken ct)
    {
        var found = new List<ProviderInstance>();
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*.json"))
        {
            if (Read(file) is not { } instance || instance.Scaler != scaler)
                continue;
            var alive = StartTime(instance.Pid) is { } started && started == instance.StartTime;
            found.Add(new ProviderInstance(InstanceId(instance), instance.LaunchId, instance.Resource,
                alive ? ProviderInstanceState.Running : ProviderInstanceState.Gone, alive ? null : $"process {instance.Pid} has exited"));
        }
        return Task.FromResult<IReadOnlyList<ProviderInstance>>(found);
    }

    public async Task TerminateAsync(string instanceId, CancellationToken ct)
    {
        var file = System.IO.Directory.EnumerateFiles(Directory, "*.json").FirstOrDefault(f => Read(f) is { } i && InstanceId(i) == instanceId);
        if (file is null || Read(file) is not { } instance)
            return;
        if (StartTime(instance.Pid) == instance.StartTime)
        {
            _ = kill(instance.Pid, SigTerm);
            var deadline = DateTime.UtcNow + TerminateGrace;
            while (StartTime(instance.Pid) == instance.StartTime && DateTime.UtcNow < deadline)
                await Task.Delay(50, ct).ConfigureAwait(false);
            if (StartTime(instance.Pid) == instance.StartTime)
                _ = kill(instance.Pid, SigKill);
        }
        File.Delete(file);
    }

    private IEnumerable<string> AgentCommand()
    {
        if (_config.Command.Count > 0)
            return _config.Command;
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this process's executable; set local.command");
        // Run as `dotnet slipway.dll`: the entry assembly is the program.
        return Path.GetFileNameWithoutExtension(self) == "dotnet" && System.Reflection.Assembly.GetEntryAssembly()?.Location is { Length: > 0 } dll ? [self, dll] : [self];
    }

    private static string InstanceId(LocalInstance instance) => $"local-{instance.Pid}-{instance.LaunchId}";

    private string FileOf(string scaler, string launchId) => Path.Combine(Directory, $"{scaler}.{launchId}.json");

    private static LocalInstance? Read(string file)
    {
        try
        {
            return JsonSerializer.Deserialize<LocalInstance>(File.ReadAllText(file), FileJson);
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), so a reused pid is not taken for the agent.</summary>
    private static long? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] == "Z" ? null : long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    private sealed record LocalInstance(string LaunchId, string Resource, string Scaler, int Pid, long? StartTime, Dictionary<string, string> Tags);
}
