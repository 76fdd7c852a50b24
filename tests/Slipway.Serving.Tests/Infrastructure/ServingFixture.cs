using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Client;
using Slipway.Server;

namespace Slipway.Serving.Tests.Infrastructure;

/// <summary>
/// The shared test server and a real inference host, both on loopback with their own folders, and a plain HTTP client for
/// the host: what a user deploys and calls.
/// </summary>
public sealed class ServingFixture : IAsyncLifetime
{
    private readonly Action<ServingOptions>? _configure;
    private readonly string _folder;
    private readonly TestServer _testServer;
    private ServingHost? _host;

    public ServingFixture(Action<ServingOptions>? configure = null)
    {
        _configure = configure;
        _folder = Directory.CreateTempSubdirectory("slipway-serving-test-").FullName;
        _testServer = new TestServer(new TestServerSettings { DataDir = Path.Combine(_folder, "server") });
    }

    public SlipwayServer Server => _testServer.Server;
    public ServingHost Host => _host ?? throw new InvalidOperationException("not started");
    public SlipwayClient Client { get; private set; } = null!;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };
    public string Folder => _folder;

    public async Task InitializeAsync()
    {
        await _testServer.InitializeAsync();
        Client = new SlipwayClient(ClientOptions());
        var options = new ServingOptions
        {
            Port = 0,
            PollInterval = TimeSpan.FromMilliseconds(100),
            ReportInterval = TimeSpan.FromMilliseconds(300),
            CacheFolder = Path.Combine(_folder, "cache"),
            DrainTimeout = TimeSpan.FromSeconds(10),
            WorkerRestartDelay = TimeSpan.FromMilliseconds(200),
        };
        _configure?.Invoke(options);
        _host = await ServingHost.StartAsync(options, ClientOptions(), logging => logging.AddFilter(_ => false));
        Http.BaseAddress = _host.Url;
    }

    public ClientOptions ClientOptions() => _testServer.Options();

    /// <summary>Registers a model file through the client (uploaded to the file server), as a user would.</summary>
    public async Task<string> RegisterModelAsync(byte[] onnx, string name = "mlp")
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}", "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, onnx);
        return (await Client.Models.RegisterAsync(new ModelRegistration { File = path, Name = name, Framework = "ONNX" })).Id;
    }

    /// <summary>Registers any file as a model (a Python-engine model is whatever its load() reads).</summary>
    public async Task<string> RegisterFileAsync(byte[] content, string fileName, string name)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}", fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, content);
        return (await Client.Models.RegisterAsync(new ModelRegistration { File = path, Name = name, Framework = "Custom" })).Id;
    }

    /// <summary>Uploads preprocess code to the file server, as `slipway serving version add --preprocess` does; returns its URL.</summary>
    public async Task<string> UploadCodeAsync(string code, string fileName = "preprocess.py")
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}", fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, code);
        return (await Client.Files.UploadFileAsync(path, $"serving/tests/{Guid.NewGuid():N}/{fileName}")).ToString();
    }

    public async Task<long> AddPythonVersionAsync(string endpoint, string model, string codeUri, string? requirements = null)
    {
        var body = new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["engine"] = "python", ["preprocess_uri"] = codeUri };
        if (requirements is not null)
            body["requirements"] = requirements;
        return (await Client.CallAsync("serving.add_version", body))["version"]!.GetValue<long>();
    }

    /// <summary>The states and reasons the hosts reported for one version (serving.get_endpoint), as a user sees them.</summary>
    public async Task<JsonArray> InstancesAsync(string endpoint, long version)
    {
        var got = await Client.CallAsync("serving.get_endpoint", new JsonObject { ["endpoint"] = endpoint });
        return got["endpoint"]!["versions"]!.AsArray().Single(v => v!["version"]!.GetValue<long>() == version)!["instances"]!.AsArray();
    }

    public async Task<string> CreateEndpointAsync(string name, JsonObject? settings = null)
    {
        var body = settings ?? [];
        body["name"] = name;
        return (await Client.CallAsync("serving.create_endpoint", body))["id"]!.GetValue<string>();
    }

    public async Task<long> AddVersionAsync(string endpoint, string model, double? weight = null)
    {
        var body = new JsonObject { ["endpoint"] = endpoint, ["model"] = model, ["engine"] = "onnx" };
        if (weight is { } w)
            body["weight"] = w;
        return (await Client.CallAsync("serving.add_version", body))["version"]!.GetValue<long>();
    }

    public async Task<(string Id, string Key)> CreateKeyAsync(string endpoint)
    {
        var created = await Client.CallAsync("serving.create_key", new JsonObject { ["endpoint"] = endpoint, ["name"] = "test" });
        return (created["id"]!.GetValue<string>(), created["key"]!.GetValue<string>());
    }

    /// <summary>Polls until <paramref name="condition"/> holds, failing with <paramref name="what"/> after the deadline.</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(25);
        }
    }

    /// <summary>Waits until the host serves <paramref name="endpointName"/>'s version <paramref name="version"/>.</summary>
    public Task WaitForReadyAsync(string endpointName, long version, string key) => WaitForAsync(async () =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/models/{endpointName}/versions/{version}/ready");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Http.SendAsync(request);
        return response.IsSuccessStatusCode;
    }, $"{endpointName} version {version} to be ready");

    public async Task<HttpResponseMessage> PostAsync(string path, string json, string? key, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            request.Headers.TryAddWithoutValidation(name, value);
        return await Http.SendAsync(request);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
            await _host.DisposeAsync();
        Client?.Dispose();
        Http.Dispose();
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
