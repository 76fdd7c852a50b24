namespace Slipway.Server.Tests.Domain;

/// <summary>The settings list is the one source: the README's table and every way of giving a setting follow it.</summary>
public sealed class ServerSettingsTests
{
    private const string TableStart = "<!-- settings table: written from ServerSettings.All; ServerSettingsTests checks it -->\n";
    private const string TableEnd = "<!-- end of settings table -->";

    [Fact]
    public void The_READMEs_settings_table_is_the_declared_list()
    {
        var readme = File.ReadAllText(Path.Combine(Repository(), "README.md")).ReplaceLineEndings("\n");
        var start = readme.IndexOf(TableStart, StringComparison.Ordinal);
        Assert.True(start >= 0, $"the README has the settings table, after the line {TableStart}");
        start += TableStart.Length;
        var end = readme.IndexOf(TableEnd, start, StringComparison.Ordinal);
        Assert.True(end >= 0, $"the settings table ends with {TableEnd}");
        var expected = ServerSettings.MarkdownTable();
        Assert.True(expected == readme[start..end], $"the README's settings table differs from ServerSettings.All; it should read:\n{expected}");
    }

    [Fact]
    public void Every_setting_is_read_from_the_file_the_environment_and_the_command_line_under_its_key()
    {
        var file = Path.GetTempFileName();
        try
        {
            foreach (var setting in ServerSettings.All)
            {
                var value = Sample(setting.Key);
                File.WriteAllText(file, $$"""{"{{setting.Key}}": "{{value.Replace("\\", "\\\\", StringComparison.Ordinal)}}"}""");
                Assert.Equal(setting.Show(ServerOptions.Load(file, new Dictionary<string, string?>(), new Dictionary<string, string?>())), Expected(setting.Key, value));
                Assert.Equal(setting.Show(ServerOptions.Load(null, new Dictionary<string, string?>(),
                    new Dictionary<string, string?> { [setting.EnvironmentVariable] = value })), Expected(setting.Key, value));
                Assert.Equal(setting.Show(ServerOptions.Load(null, new Dictionary<string, string?> { [setting.Key] = value }, new Dictionary<string, string?>())),
                    Expected(setting.Key, value));
            }
        }
        finally
        {
            File.Delete(file);
        }

        // A value none of the defaults has, that each setting accepts.
        string Sample(string key) => key switch
        {
            "api_port" => "9001",
            "web_port" => "9002",
            "files_port" => "9003",
            "token_lifetime_sec" => "3600",
            "cleanup_interval_sec" => "7",
            "watchdog_timeout_sec" => "9",
            "s3_endpoint" => "http://127.0.0.1:9000",
            "s3_path_style" => "true",
            "blobs" => "s3://bucket/prefix",
            "files_path" => "/files",
            "data" => Path.Combine(Path.GetTempPath(), "slipway-settings-data"),
            "autoscaler" => file,
            _ => "value-" + key,
        };

        static string Expected(string key, string value) => key is "data" or "autoscaler" ? Path.GetFullPath(value) : value;
    }

    [Fact]
    public void Keys_are_unique_and_read_in_any_case()
    {
        Assert.Equal(ServerSettings.All.Count, ServerSettings.All.Select(s => s.Key.ToLowerInvariant()).Distinct().Count());
        var file = Path.GetTempFileName();
        File.WriteAllText(file, """{"API_PORT": 9100}""");
        try
        {
            Assert.Equal(9100, ServerOptions.Load(file, new Dictionary<string, string?>(), new Dictionary<string, string?>()).ApiPort);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Unknown_keys_and_files_that_are_not_json_objects_are_named()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """{"api_prot": 9100, "web_port": "x"}""");
            var e = Assert.Throws<OptionsException>(() => ServerOptions.Load(file, new Dictionary<string, string?>(), new Dictionary<string, string?>()));
            Assert.Contains(e.Problems, p => p.StartsWith("unknown setting 'api_prot'", StringComparison.Ordinal));
            Assert.Contains(e.Problems, p => p.StartsWith("web_port must be a port number", StringComparison.Ordinal));

            File.WriteAllText(file, "[1, 2]");
            e = Assert.Throws<OptionsException>(() => ServerOptions.Load(file, new Dictionary<string, string?>(), new Dictionary<string, string?>()));
            Assert.Contains(e.Problems, p => p.Contains("is not a JSON object", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Repository()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Slipway.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("not inside the repository");
    }
}
