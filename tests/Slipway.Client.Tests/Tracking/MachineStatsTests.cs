using Slipway.Client.Tracking;

namespace Slipway.Client.Tests.Tracking;

public sealed class MachineStatsTests
{
    [Fact]
    public void Cpu_memory_disk_and_network_are_sampled_from_the_machine()
    {
        var stats = new MachineStats();
        stats.Sample();
        // CPU use and network rates are measured between two samples, so the kernel's tick counters and the
        // millisecond clock must have moved in between.
        var sample = stats.Sample();
        for (var i = 0; i < 100 && !(sample.ContainsKey("cpu_usage") && sample.ContainsKey("network_rx_mbs")); i++)
        {
            Thread.Sleep(20);
            sample = stats.Sample();
        }
        Assert.InRange(sample["cpu_usage"], 0, 100);
        Assert.True(sample["memory_used_gb"] > 0);
        Assert.True(sample["memory_free_gb"] > 0);
        Assert.InRange(sample["disk_free_percent"], 0, 100);
        Assert.True(sample.ContainsKey("network_rx_mbs"));
        Assert.True(sample["process_memory_gb"] > 0);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Each_gpu_nvidia_smi_lists_is_reported_and_a_missing_nvidia_smi_means_none()
    {
        var folder = Directory.CreateTempSubdirectory("fake-nvidia-smi-").FullName;
        try
        {
            // Prints what `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw
            // --format=csv,noheader,nounits` prints on a two-GPU machine (the second one cannot read its power).
            var smi = Path.Combine(folder, "nvidia-smi");
            File.WriteAllText(smi, "#!/bin/sh\nprintf '0, 87, 40960, 81920, 66, 312.50\\n1, 3, 1024, 81920, 35, [N/A]\\n'\n");
            File.SetUnixFileMode(smi, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var stats = new MachineStats(smi);
            var sample = stats.Sample();
            Assert.Equal(2, stats.GpuCount);
            Assert.Equal(87, sample["gpu_0_utilization"]);
            Assert.Equal(40, sample["gpu_0_mem_used_gb"]);
            Assert.Equal(80, sample["gpu_0_mem_total_gb"]);
            Assert.Equal(66, sample["gpu_0_temperature"]);
            Assert.Equal(312.5, sample["gpu_0_power_watts"]);
            Assert.Equal(3, sample["gpu_1_utilization"]);
            Assert.False(sample.ContainsKey("gpu_1_power_watts"));

            var none = new MachineStats(Path.Combine(folder, "absent"));
            Assert.Equal(0, none.GpuCount);
            Assert.DoesNotContain(none.Sample().Keys, k => k.StartsWith("gpu_", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
