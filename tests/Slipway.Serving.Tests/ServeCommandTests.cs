using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Client;
using Slipway.Server;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

/// <summary>`slipway serve` as its own process, configured by the clearml.conf the server wrote, as a user runs it.</summary>
public sealed partial class ServeCommandTests : IAsyncLifetime
{
    private readonly string _folder;
    private readonly TestServer _testServer;
    private SlipwayServer _server = null!;

    public ServeCommandTests()
    {
        _folder = Directory.CreateTempSubdirectory("slipway-serve-cmd-").FullName;
        _testServer = new TestServer(new TestServerSettings { DataDir = Path.Combine(_folder, "server") });
    }

    public async Task InitializeAsync()
    {
        await _testServer.InitializeAsync();
        _server = _testServer.Server;
    }

    [GeneratedRegex(@"on (http://\S+) \(Ctrl-C stops\)")]
    private static partial Regex ListeningLine();

    [Fact]
    public async Task A_serve_process_answers_a_deployed_model_and_unregisters_when_stopped()
    {
        using var client = new SlipwayClient(new ClientOptions
        {
            ApiServer = _server.ApiUrl, FilesServer = _server.FilesUrl, WebServer = _server.WebUrl,
            AccessKey = _server.NewAdmin!.AccessKey, SecretKey = _server.NewAdmin!.SecretKey,
        });
        var mlp = new Mlp(4, 8, 2, seed: 11);
        var file = Path.Combine(_folder, "mlp.onnx");
        await File.WriteAllBytesAsync(file, mlp.ToOnnx());
        var model = (await client.Models.RegisterAsync(new ModelRegistration { File = file, Name = "mlp" })).Id;
        var endpoint = (await client.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "cli" }))["id"]!.GetValue<string>();
        await client.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model });
        var key = (await client.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = endpoint }))["key"]!.GetValue<string>();

        using var process = StartServe("--report", "0.2");
        try
        {
            using var http = new HttpClient { BaseAddress = await ListeningAsync(process) };
            float[] x = [1, -2, 0.5f, 3];
            var body = new JsonObject
            {
                ["inputs"] = new JsonArray(new JsonObject
                {
                    ["name"] = "input", ["datatype"] = "FP32", ["shape"] = new JsonArray(1, 4), ["data"] = new JsonArray(x.Select(v => (JsonNode)v).ToArray()),
                }),
            }.ToJsonString();
            JsonNode? answer = null;
            await ServingFixture.WaitForAsync(async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "v2/models/cli/infer") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var response = await http.SendAsync(request);
                if (response.StatusCode != HttpStatusCode.OK)
                    return false;
                answer = JsonNode.Parse(await response.Content.ReadAsStringAsync());
                return true;
            }, "the serve process to answer", TimeSpan.FromSeconds(60));
            Assert.Equal(mlp.Compute(x), answer!["outputs"]![0]!["data"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray(), new Tolerance(1e-5f));
            await ServingFixture.WaitForAsync(async () => Instances(await client.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint }))
                .Any(i => i!["state"]!.GetValue<string>() == "ready"), "the host to report version 1 ready");

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(exited.Token);
            Assert.Empty(Instances(await client.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint })));
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task A_python_worker_exits_when_its_serve_process_is_killed()
    {
        using var client = new SlipwayClient(new ClientOptions
        {
            ApiServer = _server.ApiUrl, FilesServer = _server.FilesUrl, WebServer = _server.WebUrl,
            AccessKey = _server.NewAdmin!.AccessKey, SecretKey = _server.NewAdmin!.SecretKey,
        });
        var weights = Path.Combine(_folder, "weights.json");
        await File.WriteAllBytesAsync(weights, PythonCode.Weights([1, 2, 3], 0));
        var code = Path.Combine(_folder, "preprocess.py");
        await File.WriteAllTextAsync(code, PythonCode.Linear);
        var model = (await client.Models.RegisterAsync(new ModelRegistration { File = weights, Name = "linear" })).Id;
        var endpoint = (await client.CallAsync("serving.create_endpoint", new JsonObject { ["name"] = "py", ["public"] = true }))["id"]!.GetValue<string>();
        var codeUri = await client.Files.UploadFileAsync(code, "serving/cli/preprocess.py");
        await client.CallAsync("serving.add_version", new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["engine"] = "python", ["preprocess_uri"] = codeUri.ToString() });

        using var process = StartServe();
        try
        {
            using var http = new HttpClient { BaseAddress = await ListeningAsync(process) };
            var worker = 0;
            await ServingFixture.WaitForAsync(async () =>
            {
                using var response = await http.PostAsync("serve/py", new StringContent("""{"x": [1, 1, 1]}""", Encoding.UTF8, "application/json"));
                if (response.StatusCode != HttpStatusCode.OK)
                    return false;
                worker = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["pid"]!.GetValue<int>();
                return true;
            }, "the serve process to answer through its Python worker", TimeSpan.FromSeconds(60));
            Assert.True(Directory.Exists($"/proc/{worker}"));

            // SIGKILL: the host cannot stop its workers; each sees its stdin close (and its parent change) and exits.
            process.Kill();
            await process.WaitForExitAsync();
            // Gone, or a zombie waiting for whatever adopted it to reap it: either way it no longer runs.
            await ServingFixture.WaitForAsync(() => Task.FromResult(!Running(worker)), "the orphaned worker to exit", TimeSpan.FromSeconds(15));
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>`slipway serve` as a child process, configured by the test server's clearml.conf only (no CLEARML_* variables).</summary>
    private Process StartServe(params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "slipway.dll"), "serve", "--conf", _server.ConfigPath, "--port", "0", "--poll", "0.1",
                     "--cache", Path.Combine(_folder, "cache") }.Concat(extra))
            start.ArgumentList.Add(arg);
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("CLEARML_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        return Process.Start(start)!;
    }

    /// <summary>The address the serve process says it listens on (its log on stderr), or its log when it does not start within a minute.</summary>
    private static async Task<Uri> ListeningAsync(Process process)
    {
        var errors = new StringBuilder();
        var url = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (errors)
                errors.AppendLine(e.Data);
            if (ListeningLine().Match(e.Data) is { Success: true } m)
                url.TrySetResult(new Uri(m.Groups[1].Value));
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (await Task.WhenAny(url.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60))) != url.Task)
            throw new InvalidOperationException($"slipway serve did not start:\n{errors}");
        return await url.Task;
    }

    private static bool Running(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] != "Z";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static JsonArray Instances(JsonObject endpoint) => endpoint["endpoint"]!["versions"]![0]!["instances"]!.AsArray();

    public async Task DisposeAsync()
    {
        await _testServer.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
