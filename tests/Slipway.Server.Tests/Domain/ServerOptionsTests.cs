namespace Slipway.Server.Tests.Domain;

public sealed class ServerOptionsTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    [Fact]
    public void Command_line_beats_environment_beats_file_beats_defaults()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, """{"api_port": 9000, "web_port": 9001, "host": "127.0.0.1"}""");
        var options = ServerOptions.Load(file, new Dictionary<string, string?> { ["api_port"] = "9100" },
            new Dictionary<string, string?> { ["SLIPWAY_WEB_PORT"] = "9201", ["SLIPWAY_API_PORT"] = "9200" });
        Assert.Equal((9100, 9201, 8081, "127.0.0.1"), (options.ApiPort, options.WebPort, options.FilesPort, options.Host));
        File.Delete(file);
    }

    [Fact]
    public void Every_problem_is_reported_with_a_clear_message()
    {
        var e = Assert.Throws<OptionsException>(() => ServerOptions.Load("/nonexistent.json",
            new Dictionary<string, string?> { ["api_port"] = "70000", ["web_port"] = "8081", ["token_lifetime_sec"] = "soon" }, NoEnvironment));
        Assert.Contains(e.Problems, p => p.Contains("settings file not found", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.Contains("api_port must be a port number", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.Contains("must differ", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.Contains("token_lifetime_sec", StringComparison.Ordinal));
    }

    [Fact]
    public void A_connection_string_selects_postgres_and_wildcard_hosts_write_localhost()
    {
        var options = ServerOptions.Load(null, new Dictionary<string, string?> { ["db"] = "Host=db;Database=slipway", ["host"] = "0.0.0.0" }, NoEnvironment);
        Assert.True(options.UsesPostgres);
        Assert.Equal("localhost", options.ConfigHost);
    }

    [Fact]
    public void The_server_listens_on_loopback_unless_told_otherwise()
    {
        var defaults = ServerOptions.Load(null, new Dictionary<string, string?>(), NoEnvironment);
        Assert.Equal("127.0.0.1", defaults.Host);
        Assert.Equal("127.0.0.1", defaults.ConfigHost);
        var everywhere = ServerOptions.Load(null, new Dictionary<string, string?>(), new Dictionary<string, string?> { ["SLIPWAY_HOST"] = "0.0.0.0" });
        Assert.Equal("0.0.0.0", everywhere.Host);
    }
}
