using System.Diagnostics;
using System.Globalization;

namespace Slipway.Client.Tracking;

/// <summary>
/// Samples the machine: CPU use, memory, disk, network and, where <c>nvidia-smi</c> is present, each GPU's
/// utilisation, memory and temperature. Rates (CPU, network) are measured between two samples, so keep one
/// instance and call <see cref="Sample"/> periodically. Linux reads <c>/proc</c>; elsewhere only the
/// process-level figures .NET offers are reported.
/// </summary>
public sealed class MachineStats
{
    private readonly string _nvidiaSmi;
    private (long Busy, long Total)? _lastCpu;
    private (long Rx, long Tx, long Tick)? _lastNet;
    private bool _gpuAbsent;

    /// <summary>Samples this machine, with <c>nvidia-smi</c> found on the PATH.</summary>
    public MachineStats()
        : this("nvidia-smi")
    {
    }

    /// <summary>Samples with another <c>nvidia-smi</c> executable (tests use a stand-in that prints known figures).</summary>
    internal MachineStats(string nvidiaSmi) => _nvidiaSmi = nvidiaSmi;

    /// <summary>Takes a sample: metric name → value (e.g. <c>cpu_usage</c> in percent, <c>memory_used_gb</c>, <c>gpu_0_utilization</c>).</summary>
    public IReadOnlyDictionary<string, double> Sample()
    {
        var values = new Dictionary<string, double>();
        SampleCpu(values);
        SampleMemory(values);
        SampleDisk(values);
        SampleNetwork(values);
        foreach (var (key, value) in SampleGpus())
            values[key] = value;
        return values;
    }

    /// <summary>How many GPUs <c>nvidia-smi</c> lists (0 when there is none).</summary>
    public int GpuCount => SampleGpus().Count(kv => kv.Key.EndsWith("_utilization", StringComparison.Ordinal));

    private void SampleCpu(Dictionary<string, double> values)
    {
        if (!File.Exists("/proc/stat"))
            return;
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
        var total = fields.Take(8).Sum();
        if (_lastCpu is { } last && total > last.Total)
            values["cpu_usage"] = Math.Round(100.0 * ((total - idle) - last.Busy) / (total - last.Total), 2);
        _lastCpu = (total - idle, total);
    }

    private static void SampleMemory(Dictionary<string, double> values)
    {
        values["process_memory_gb"] = Gb(Environment.WorkingSet);
        if (!File.Exists("/proc/meminfo"))
            return;
        long Field(string name) => File.ReadLines("/proc/meminfo").Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024).FirstOrDefault();
        var total = Field("MemTotal");
        var available = Field("MemAvailable");
        values["memory_used_gb"] = Gb(total - available);
        values["memory_free_gb"] = Gb(available);
    }

    private static void SampleDisk(Dictionary<string, double> values)
    {
        try
        {
            var drive = new DriveInfo(Path.GetPathRoot(Environment.CurrentDirectory) ?? "/");
            if (drive.TotalSize > 0)
                values["disk_free_percent"] = Math.Round(100.0 * drive.AvailableFreeSpace / drive.TotalSize, 2);
        }
        catch (IOException)
        {
        }
    }

    private void SampleNetwork(Dictionary<string, double> values)
    {
        if (!File.Exists("/proc/net/dev"))
            return;
        long rx = 0, tx = 0;
        foreach (var line in File.ReadLines("/proc/net/dev").Skip(2))
        {
            var parts = line.Split([':', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 10 || parts[0] == "lo")
                continue;
            rx += long.Parse(parts[1], CultureInfo.InvariantCulture);
            tx += long.Parse(parts[9], CultureInfo.InvariantCulture);
        }
        var now = Environment.TickCount64;
        if (_lastNet is { } last && now > last.Tick)
        {
            var seconds = (now - last.Tick) / 1000.0;
            values["network_rx_mbs"] = Math.Round((rx - last.Rx) / seconds / 1e6, 3);
            values["network_tx_mbs"] = Math.Round((tx - last.Tx) / seconds / 1e6, 3);
        }
        _lastNet = (rx, tx, now);
    }

    private IEnumerable<KeyValuePair<string, double>> SampleGpus()
    {
        if (_gpuAbsent)
            yield break;
        var output = NvidiaSmi();
        if (output is null)
        {
            _gpuAbsent = true;
            yield break;
        }
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(',').Select(s => s.Trim()).ToArray();
            if (f.Length < 6)
                continue;
            double Num(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
            var prefix = $"gpu_{f[0]}_";
            yield return new(prefix + "utilization", Num(f[1]));
            yield return new(prefix + "mem_used_gb", Num(f[2]) / 1024);
            yield return new(prefix + "mem_total_gb", Num(f[3]) / 1024);
            yield return new(prefix + "temperature", Num(f[4]));
            if (!double.IsNaN(Num(f[5])))
                yield return new(prefix + "power_watts", Num(f[5]));
        }
    }

    private string? NvidiaSmi()
    {
        try
        {
            var start = new ProcessStartInfo(_nvidiaSmi, "--query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw --format=csv,noheader,nounits")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var text = process.StandardOutput.ReadToEnd();
            process.WaitForExit(5_000);
            return process.ExitCode == 0 ? text : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static double Gb(long bytes) => Math.Round(bytes / (1024.0 * 1024 * 1024), 3);
}
