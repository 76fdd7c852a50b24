namespace Slipway.Agent.Tests;

public sealed class MachineStatsReportTests
{
    [Fact]
    public void A_sample_becomes_the_status_reports_machine_stats_with_one_column_entry_per_gpu()
    {
        var report = MachineStatsReport.From(new Dictionary<string, double>
        {
            ["cpu_usage"] = 12.5,
            ["memory_used_gb"] = 2,
            ["memory_free_gb"] = 6,
            ["disk_free_percent"] = 40,
            ["network_rx_mbs"] = 1.5,
            ["network_tx_mbs"] = 0.5,
            ["gpu_0_utilization"] = 87,
            ["gpu_0_mem_used_gb"] = 40,
            ["gpu_0_mem_total_gb"] = 80,
            ["gpu_0_temperature"] = 66,
            ["gpu_1_utilization"] = 3,
            ["gpu_1_mem_used_gb"] = 1,
            ["gpu_1_mem_total_gb"] = 80,
            ["gpu_1_temperature"] = 35,
        });
        Assert.Equal("[12.5]", report["cpu_usage"]!.ToJsonString());
        Assert.Equal(2048, report["memory_used"]!.GetValue<double>());
        Assert.Equal(6144, report["memory_free"]!.GetValue<double>());
        Assert.Equal(40, report["disk_free_home"]!.GetValue<double>());
        Assert.Equal("[87,3]", report["gpu_usage"]!.ToJsonString());
        Assert.Equal("[40960,1024]", report["gpu_memory_used"]!.ToJsonString());
        Assert.Equal("[40960,80896]", report["gpu_memory_free"]!.ToJsonString());
        Assert.Equal("[66,35]", report["gpu_temperature"]!.ToJsonString());
    }

    [Fact]
    public void Without_gpus_there_are_no_gpu_columns()
    {
        var report = MachineStatsReport.From(new Dictionary<string, double> { ["cpu_usage"] = 1 });
        Assert.False(report.ContainsKey("gpu_usage"));
        Assert.False(report.ContainsKey("memory_used"));
    }
}
