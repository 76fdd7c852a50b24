using Slipway.Commands;

namespace Slipway.Tests;

/// <summary>The pure formatting pieces: progress line, times, sizes, table alignment.</summary>
public sealed class OutputTests
{
    [Fact]
    public void A_progress_line_shows_bar_share_bytes_rate_and_time_left_within_the_width()
    {
        var line = ProgressBar.Render("weights.onnx", 50 * 1024 * 1024, 100 * 1024 * 1024, TimeSpan.FromSeconds(5), width: 100);

        Assert.StartsWith("weights.onnx [===============>", line, StringComparison.Ordinal);
        Assert.Contains(" 50%  50.0 MiB / 100.0 MiB  10.0 MiB/s  0:05 left", line, StringComparison.Ordinal);
        Assert.True(line.Length < 100);
    }

    [Fact]
    public void A_progress_line_fits_a_narrow_terminal_and_works_without_a_total()
    {
        Assert.True(ProgressBar.Render("a-very-long-model-file-name.onnx", 1024, 4096, TimeSpan.FromSeconds(1), width: 40).Length < 40);
        Assert.Equal("m.bin  2.0 KiB  2.0 KiB/s", ProgressBar.Render("m.bin", 2048, null, TimeSpan.FromSeconds(1), width: 80));
    }

    [Fact]
    public void Times_durations_and_sizes_are_short()
    {
        var now = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal("-", Output.Ago(null, now));
        Assert.Equal("42s ago", Output.Ago(now.AddSeconds(-42), now));
        Assert.Equal("5m ago", Output.Ago(now.AddMinutes(-5.5), now));
        Assert.Equal("3h ago", Output.Ago(now.AddHours(-3), now));
        Assert.Equal("2d ago", Output.Ago(now.AddDays(-2), now));
        Assert.Equal("2025-01-02", Output.Ago(new DateTimeOffset(2025, 1, 2, 8, 0, 0, TimeSpan.Zero), now));
        Assert.Equal("12m 05s", Output.Duration(TimeSpan.FromSeconds(725)));
        Assert.Equal("3h 04m", Output.Duration(TimeSpan.FromMinutes(184)));
        Assert.Equal("812 B", Output.Bytes(812));
        Assert.Equal("1.5 GiB", Output.Bytes(1.5 * 1024 * 1024 * 1024));
    }

    [Fact]
    public void A_table_pads_columns_to_the_widest_cell_and_aligns_numbers_right()
    {
        var table = new Table("NAME", "ITER", "STATUS").AlignRight("ITER");
        table.Add("a", "7", "created");
        table.Add("longer\tname", "1200", "in_progress");
        using var writer = new StringWriter();

        table.Write(writer);

        Assert.Equal("""
            NAME         ITER  STATUS
            a               7  created
            longer name  1200  in_progress

            """, writer.ToString());
    }
}
