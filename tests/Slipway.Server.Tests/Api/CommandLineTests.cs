using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

public sealed class CommandLineTests
{
    [Fact]
    public async Task User_add_creates_a_user_whose_keys_log_in()
    {
        await using var server = await ServerUnderTest.StartAsync("sqlite");
        var (exit, output, error) = await RunAsync(["user", "add", "--name", "carol", "--json"], new Dictionary<string, string>
        {
            ["CLEARML_CONFIG_FILE"] = server.Server.ConfigPath,
        });
        Assert.True(exit == 0, error);
        var created = JsonNode.Parse(output)!;
        var token = await ServerUnderTest.LoginAsync(server.Api, created["access_key"]!.GetValue<string>(), created["secret_key"]!.GetValue<string>());
        using var carol = server.ClientWithToken(token);
        Assert.Equal("carol", (await carol.OkAsync("users.get_current_user"))["user"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Gc_dry_run_lists_and_gc_removes_a_deleted_tasks_files()
    {
        await using var server = await ServerUnderTest.StartAsync("sqlite");
        var (task, path) = await server.CreateTaskWithArtifactAsync();
        await server.Client.OkAsync("tasks.delete", new JsonObject { ["task"] = task });
        var environment = new Dictionary<string, string> { ["CLEARML_CONFIG_FILE"] = server.Server.ConfigPath };

        var (exit, output, error) = await RunAsync(["gc", "--dry-run", "--json"], environment);
        Assert.True(exit == 0, error);
        Assert.Equal(path, JsonNode.Parse(output)!["would_delete"]![0]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(server.DataDir, "files", path)));

        (exit, output, error) = await RunAsync(["gc"], environment);
        Assert.True(exit == 0, error);
        Assert.Contains($"Removed 1 file(s):\n  {path}", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(server.DataDir, "files", path)));
    }

    [Fact]
    public async Task A_restart_keeps_the_keys_in_clearml_conf_and_refreshes_its_ports()
    {
        var server = await ServerUnderTest.StartAsync("sqlite");
        var admin = server.Admin;
        var dataDir = server.DataDir;
        await server.StopAsync();
        await using var again = await ServerUnderTest.StartAsync("sqlite", dataDir: dataDir);
        Assert.Null(again.Server.NewAdmin);
        var conf = await File.ReadAllTextAsync(again.Server.ConfigPath);
        Assert.Contains(admin.SecretKey, conf, StringComparison.Ordinal);
        Assert.Contains($"api_server: {again.Api.ToString().TrimEnd('/')}", conf, StringComparison.Ordinal);
        await ServerUnderTest.LoginAsync(again.Api, admin.AccessKey, admin.SecretKey);
    }

    [Fact]
    public async Task Invalid_settings_exit_with_every_problem_named()
    {
        var (exit, _, error) = await RunAsync(["server", "--api-port", "99999", "--web-port", "8081", "--data", Path.GetTempPath()], []);
        Assert.Equal(2, exit);
        Assert.Contains("api_port must be a port number", error, StringComparison.Ordinal);
        Assert.Contains("must differ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_first_start_says_where_the_admin_keys_are_and_never_prints_the_secret()
    {
        var dataDir = NewDataDir();
        try
        {
            using var process = Start(["server", "--data", dataDir, "--api-port", "0", "--web-port", "0", "--files-port", "0"], []);
            var output = new StringBuilder();
            using (var patience = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
            {
                try
                {
                    // Up to the banner's last line; the server then runs until stopped.
                    while (await process.StandardOutput.ReadLineAsync(patience.Token) is { } line)
                    {
                        output.AppendLine(line);
                        if (line.StartsWith("Point the ClearML SDK here", StringComparison.Ordinal))
                            break;
                    }
                }
                finally
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(CancellationToken.None);
                }
            }
            Assert.Contains("Point the ClearML SDK here", output.ToString(), StringComparison.Ordinal);
            var keys = ClearmlConf.ReadCredentials(Path.Combine(dataDir, "clearml.conf"));
            Assert.NotNull(keys);
            var banner = output.ToString();
            Assert.DoesNotContain(keys.SecretKey, banner, StringComparison.Ordinal);
            Assert.Contains(keys.AccessKey, banner, StringComparison.Ordinal);
            Assert.Contains($"its secret key is in {Path.Combine(dataDir, "clearml.conf")}", banner, StringComparison.Ordinal);
            Assert.Contains("API:   http://127.0.0.1:", banner, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_busy_port_stops_the_server_with_one_line_naming_the_port_and_the_option()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var dataDir = NewDataDir();
        try
        {
            var (exit, output, error) = await RunAsync(["server", "--data", dataDir, "--api-port", "0", "--web-port", port.ToString(CultureInfo.InvariantCulture), "--files-port", "0"], []);
            Assert.Equal(1, exit);
            Assert.Equal($"slipway server: port {port} is in use (change it with --web-port or SLIPWAY_WEB_PORT)\n", error);
            Assert.Equal("", output);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task An_unreachable_postgres_stops_the_server_with_one_line()
    {
        int closed;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closed = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var dataDir = NewDataDir();
        try
        {
            var (exit, output, error) = await RunAsync(["server", "--data", dataDir, "--db", $"Host=127.0.0.1;Port={closed};Database=slipway;Username=slipway;Timeout=5"], []);
            Assert.Equal(1, exit);
            Assert.Matches(@"^slipway server: cannot use the PostgreSQL database: .*127\.0\.0\.1.* \(check the connection string in --db or SLIPWAY_DB\)\n$", error);
            Assert.Equal("", output);
        }
        finally
        {
            if (Directory.Exists(dataDir))
                Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_database_file_that_is_not_sqlite_stops_the_server_with_one_line()
    {
        var dataDir = NewDataDir();
        Directory.CreateDirectory(dataDir);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dataDir, "slipway.db"), new string('x', 4096));
            var (exit, _, error) = await RunAsync(["server", "--data", dataDir, "--api-port", "0", "--web-port", "0", "--files-port", "0"], []);
            Assert.Equal(1, exit);
            Assert.Matches($"^slipway server: cannot open the SQLite database {Regex.Escape(Path.Combine(dataDir, "slipway.db"))}: .*not a database.* \\(choose another data directory with --data or SLIPWAY_DATA\\)\n$", error);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_data_folder_that_cannot_be_made_stops_the_server_with_one_line()
    {
        // Below a plain file, so that it fails for root too (which permissions would not stop).
        var file = Path.GetTempFileName();
        try
        {
            var (exit, _, error) = await RunAsync(["server", "--data", Path.Combine(file, "data"), "--api-port", "0", "--web-port", "0", "--files-port", "0"], []);
            Assert.Equal(1, exit);
            Assert.Matches($"^slipway server: the data folder {Regex.Escape(Path.Combine(file, "data"))} is not writable \\(.*\\) \\(choose another with --data or SLIPWAY_DATA\\)\n$", error);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string NewDataDir() => Path.Combine(Path.GetTempPath(), "slipway-cli-test-" + Guid.NewGuid().ToString("N")[..12]);

    private static Process Start(string[] args, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slipway.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        return Process.Start(start)!;
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string[] args, Dictionary<string, string> environment)
    {
        using var process = Start(args, environment);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }
}
