using System.Diagnostics;
using System.Text.Json.Nodes;
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

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string[] args, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slipway.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }
}
