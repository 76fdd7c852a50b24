using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

/// <summary>How client commands find (or fail to find) the server, and what --help promises.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task A_missing_conf_file_exits_3_naming_it()
    {
        var conf = Path.Combine(Path.GetTempPath(), "slipway-no-such-" + Guid.NewGuid().ToString("N"), "clearml.conf");

        var run = await CliRun.RunAsync("task", "list", "--conf", conf);

        Assert.Equal(ExitCodes.Configuration, run.Exit);
        Assert.Contains(conf, run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sdk { }", "configures no server")]
    [InlineData("api { api_server: \"http://127.0.0.1:1\" }", "no credentials")]
    [InlineData("api { api_server: ", "line")]
    public async Task A_conf_without_a_server_or_keys_or_that_does_not_parse_exits_3(string text, string message)
    {
        var conf = Path.Combine(Path.GetTempPath(), "slipway-conf-" + Guid.NewGuid().ToString("N") + ".conf");
        await File.WriteAllTextAsync(conf, text);
        try
        {
            var run = await CliRun.RunAsync("queue", "list", "--conf", conf);

            Assert.Equal(ExitCodes.Configuration, run.Exit);
            var line = Assert.Single(run.Error.TrimEnd('\n').Split('\n'));
            Assert.Contains(message, line, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(conf);
        }
    }

    [Fact]
    public async Task Help_explains_the_configuration_and_the_exit_codes()
    {
        var root = await CliRun.RunAsync("--help");
        Assert.Equal(0, root.Exit);
        Assert.Contains("Exit codes:", root.Out, StringComparison.Ordinal);
        Assert.Contains("CLEARML_CONFIG_FILE", root.Out, StringComparison.Ordinal);

        var clone = await CliRun.RunAsync("task", "clone", "--help");
        Assert.Equal(0, clone.Exit);
        foreach (var option in new[] { "--name", "--project", "--param", "--branch", "--commit", "--repository", "--enqueue", "--conf", "--json" })
            Assert.Contains(option, clone.Out, StringComparison.Ordinal);
        Assert.Contains("Exit codes:", clone.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_help_lists_a_switch_for_every_setting_and_the_config_help_every_key()
    {
        var help = await CliRun.RunAsync("server", "--help");
        Assert.Equal(0, help.Exit);
        foreach (var setting in Slipway.Server.ServerSettings.All)
        {
            Assert.Contains(setting.Key, help.Out, StringComparison.Ordinal);
            if (setting.OnCommandLine)
                Assert.Contains(setting.Switch + " ", help.Out, StringComparison.Ordinal);
            else
                Assert.DoesNotContain(setting.Switch + " ", help.Out, StringComparison.Ordinal);
        }
        Assert.Contains("--api-port", help.Out, StringComparison.Ordinal);
        Assert.Contains("SLIPWAY_WATCHDOG_TIMEOUT_SEC", help.Out, StringComparison.Ordinal);
    }
}
