using System.Security.Cryptography;
using Slipway.Client;
using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

public sealed class ModelCommandTests(CliServer server) : IClassFixture<CliServer>
{
    private async Task<(ModelInfo Model, byte[] Bytes, string Project)> RegisterAsync(int size = 3 * 1024 * 1024 + 17)
    {
        var project = CliServer.Unique("models");
        var projectId = await server.CreateProjectAsync(project);
        var task = await server.CreateTaskAsync("producer", projectId);
        var bytes = RandomNumberGenerator.GetBytes(size);
        var file = Path.Combine(server.NewFolder(), "weights.onnx");
        await File.WriteAllBytesAsync(file, bytes);
        var model = await server.Client.Models.RegisterAsync(new ModelRegistration
        {
            File = file, Name = CliServer.Unique("net"), TaskId = task, ProjectId = projectId, Framework = "ONNX", Iteration = 7,
        });
        return (model, bytes, project);
    }

    [Fact]
    public async Task List_shows_a_projects_models_and_json_has_their_ids()
    {
        var (model, _, project) = await RegisterAsync(100);

        var text = (await server.RunAsync("model", "list", "--project", project)).Ok().Out;
        var row = Assert.Single(text.Split('\n'), l => l.StartsWith(model.Id, StringComparison.Ordinal));
        Assert.Contains(model.Name, row, StringComparison.Ordinal);
        Assert.Contains("ONNX", row, StringComparison.Ordinal);
        Assert.Contains("draft", row, StringComparison.Ordinal);

        var json = Assert.Single((await server.RunAsync("model", "list", "--project", project, "--json")).Json().AsArray())!;
        Assert.Equal(model.Id, json["id"]!.GetValue<string>());
        Assert.Equal(model.TaskId, json["task"]!.GetValue<string>());
        Assert.False(json["published"]!.GetValue<bool>());
        Assert.Empty((await server.RunAsync("model", "list", "--project", project, "--published", "--json")).Json().AsArray());
    }

    [Fact]
    public async Task Show_prints_the_models_file_and_task()
    {
        var (model, _, _) = await RegisterAsync(100);

        var text = (await server.RunAsync("model", "show", model.Id)).Ok().Out;

        Assert.Contains(model.Uri!, text, StringComparison.Ordinal);
        Assert.Contains(model.TaskId!, text, StringComparison.Ordinal);
        Assert.Equal(model.Uri, (await server.RunAsync("model", "show", model.Id, "--json")).Json()["uri"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_with_copy_downloads_a_byte_identical_file_and_prints_its_path_with_no_bar_when_redirected()
    {
        var (model, bytes, _) = await RegisterAsync();
        var folder = server.NewFolder();

        var run = (await server.RunAsync("model", "get", model.Id, "--copy", folder)).Ok();

        var path = run.Out.Trim();
        Assert.Equal(Path.Combine(folder, "weights.onnx"), path);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task Get_into_the_cache_downloads_once_and_json_gives_path_and_size()
    {
        var (model, bytes, _) = await RegisterAsync();
        var cache = server.NewFolder();

        var json = (await server.RunAsync("model", "get", model.Id, "--cache-dir", cache, "--json")).Json();
        var path = json["path"]!.GetValue<string>();
        Assert.StartsWith(cache, path, StringComparison.Ordinal);
        Assert.Equal(bytes.Length, json["size"]!.GetValue<long>());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));

        // A second get finds the cached copy, even with the file gone from the server.
        var stored = Path.Combine(server.DataDir, "files", Uri.UnescapeDataString(new Uri(model.Uri!).AbsolutePath.TrimStart('/')));
        Assert.True(File.Exists(stored), stored);
        File.Delete(stored);
        var again = (await server.RunAsync("model", "get", model.Id, "--cache-dir", cache)).Ok();
        Assert.Equal(path, again.Out.Trim());
    }

    [Fact]
    public async Task Get_draws_a_progress_bar_on_stderr_when_it_is_a_terminal()
    {
        var (model, bytes, _) = await RegisterAsync();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CliConsole(output, error) { ErrorIsTerminal = true, Width = 100 };

        var exit = await Cli.RunAsync(["model", "get", model.Id, "--copy", server.NewFolder(), "--conf", server.ConfFile], console, handleTermination: false);

        Assert.True(exit == 0, error.ToString());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(output.ToString().Trim()));
        var last = error.ToString().Split('\r')[^1].Trim();
        Assert.StartsWith("weights.onnx [", last, StringComparison.Ordinal);
        Assert.Contains("100%", last, StringComparison.Ordinal);
        Assert.Contains("3.0 MiB / 3.0 MiB", last, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_marks_the_model_published()
    {
        var (model, _, _) = await RegisterAsync(100);

        var json = (await server.RunAsync("model", "publish", model.Id, "--json")).Json();

        Assert.True(json["published"]!.GetValue<bool>());
        Assert.True((await server.Client.Models.GetAsync(model.Id)).Ready);
    }

    [Theory]
    [InlineData("show")]
    [InlineData("get")]
    [InlineData("publish")]
    public async Task An_unknown_model_exits_1_with_one_line(string command)
    {
        var run = await server.RunAsync("model", command, "no-such-model");

        Assert.Equal(ExitCodes.Failed, run.Exit);
        var line = Assert.Single(run.Error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"slipway model {command}: ", line, StringComparison.Ordinal);
        Assert.Contains("no-such-model", line, StringComparison.Ordinal);
    }
}
