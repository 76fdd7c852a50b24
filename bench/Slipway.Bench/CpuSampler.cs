using System.Diagnostics;
using System.Globalization;

namespace Slipway.Bench;

/// <summary>CPU use over a window: this process (server + client, in-process) and the whole machine (/proc/stat).</summary>
public sealed class CpuSampler
{
    private readonly TimeSpan _process0 = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly (long Busy, long Total) _machine0 = Machine();
    private readonly long _t0 = Stopwatch.GetTimestamp();
    private readonly TimeSpan _gcPause0 = GC.GetTotalPauseDuration();
    private readonly long _allocated0 = GC.GetTotalAllocatedBytes();
    private readonly int _gen0 = GC.CollectionCount(0);
    private readonly int _gen2 = GC.CollectionCount(2);

    /// <summary>GC activity in this process since construction: share of wall time paused, bytes allocated, gen0 and gen2 counts.</summary>
    public string Gc()
    {
        var wall = Stopwatch.GetElapsedTime(_t0).TotalSeconds;
        var paused = (GC.GetTotalPauseDuration() - _gcPause0).TotalSeconds;
        var allocated = GC.GetTotalAllocatedBytes() - _allocated0;
        return string.Create(CultureInfo.InvariantCulture,
            $"GC: paused {paused / wall * 100:0.0} % of the time, {allocated / wall / 1e6:0} MB/s allocated (server + client), {GC.CollectionCount(0) - _gen0} gen0 / {GC.CollectionCount(2) - _gen2} gen2 collections");
    }

    public long AllocatedSinceStart => GC.GetTotalAllocatedBytes() - _allocated0;

    /// <summary>Average cores busy in this process and on the machine since construction.</summary>
    public (double ProcessCores, double MachineCores) Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_t0).TotalSeconds;
        var process = (Process.GetCurrentProcess().TotalProcessorTime - _process0).TotalSeconds / wall;
        var (busy, total) = Machine();
        var machine = total > _machine0.Total ? (double)(busy - _machine0.Busy) / (total - _machine0.Total) * Environment.ProcessorCount : double.NaN;
        return (process, machine);
    }

    public static string Describe((double ProcessCores, double MachineCores) cpu) =>
        string.Create(CultureInfo.InvariantCulture, $"CPU busy: bench process {cpu.ProcessCores:0.00} cores, other processes {Math.Max(0, cpu.MachineCores - cpu.ProcessCores):0.00}, machine {cpu.MachineCores:0.00} of {Environment.ProcessorCount}");

    private static (long Busy, long Total) Machine()
    {
        try
        {
            var parts = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            var idle = parts[3] + (parts.Length > 4 ? parts[4] : 0);
            var total = parts.Take(8).Sum();
            return (total - idle, total);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return (0, 0);
        }
    }
}
