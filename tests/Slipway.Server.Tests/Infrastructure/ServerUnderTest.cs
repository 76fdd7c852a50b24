using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Slipway.Server.Tests.Infrastructure;

/// <summary>The shared test server (on SQLite or its own PostgreSQL database) with a raw API client signed in as its admin.</summary>
public sealed class ServerUnderTest : IAsyncDisposable
{
    private readonly TestServer _testServer;

    private ServerUnderTest(TestServer testServer, ApiClient client)
    {
        _testServer = testServer;
        Client = client;
    }

    public SlipwayServer Server => _testServer.Server;
    public string DataDir => _testServer.DataDir;
    public ApiClient Client { get; }
    public LogRecorder Logs => _testServer.Logs;
    public Uri Api => Server.ApiUrl;
    public AdminCredentials Admin => Server.NewAdmin!;

    public static async Task<ServerUnderTest> StartAsync(string engine, TimeProvider? clock = null, string? dataDir = null, string? database = null,
        Slipway.Server.Blobs.S3Location? s3 = null, string filesPath = "", int filesPort = 0, TimeSpan? cleanupInterval = null)
    {
        var testServer = await TestServer.StartAsync(new TestServerSettings
        {
            Engine = engine,
            Clock = clock,
            DataDir = dataDir,
            Database = database,
            Configure = options =>
            {
                options.FilesPort = filesPort;
                // Tests run cleanup passes themselves (files.run_cleanup), so none runs behind their back.
                options.CleanupInterval = cleanupInterval ?? TimeSpan.Zero;
                options.FilesPath = filesPath;
                if (s3 is not null)
                {
                    options.Blobs = $"s3://{s3.Bucket}/{s3.Prefix}";
                    (options.S3Endpoint, options.S3Region, options.S3AccessKey, options.S3SecretKey, options.S3PathStyle) =
                        (s3.Endpoint, s3.Region, s3.AccessKey, s3.SecretKey, s3.PathStyle);
                }
            },
        });
        var server = testServer.Server;
        var token = server.NewAdmin is { } admin ? await LoginAsync(server.ApiUrl, admin.AccessKey, admin.SecretKey) : null;
        return new ServerUnderTest(testServer, new ApiClient(server.ApiUrl, token));
    }

    public static async Task<string> LoginAsync(Uri api, string accessKey, string secretKey)
    {
        using var http = new HttpClient { BaseAddress = api };
        using var request = new HttpRequestMessage(HttpMethod.Get, "auth.login");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{accessKey}:{secretKey}")));
        using var response = await http.SendAsync(request);
        var envelope = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return envelope["data"]!["token"]?.GetValue<string>() ?? throw new InvalidOperationException($"login failed: {envelope}");
    }

    public ApiClient ClientWithToken(string? token) => new(Api, token);

    /// <summary>A task with one artifact uploaded to the file server, as the SDK makes them; returns the task id and the file's path.</summary>
    public async Task<(string Task, string Path)> CreateTaskWithArtifactAsync()
    {
        var task = (await Client.OkAsync("tasks.create", new JsonObject { ["name"] = "t", ["type"] = "training" }))["id"]!.GetValue<string>();
        var path = $"p/t.{task}/artifacts/a/a.bin";
        using (var http = new HttpClient { BaseAddress = Server.FilesUrl })
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Client.Token);
            (await http.PostAsync("/", new MultipartFormDataContent { { new ByteArrayContent([1, 2]), "/" + path, "/" + path } })).EnsureSuccessStatusCode();
        }
        await Client.OkAsync("tasks.add_or_update_artifacts", new JsonObject
        {
            ["task"] = task, ["artifacts"] = new JsonArray(new JsonObject { ["key"] = "a", ["type"] = "custom", ["uri"] = new Uri(Server.FilesUrl, path).ToString() }),
        });
        return (task, path);
    }

    /// <summary>Stops the server but keeps its data (for restart tests).</summary>
    public async Task StopAsync() => await Server.DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _testServer.DisposeAsync();
    }
}

/// <summary>A test class that gets a fresh server per test, on the engine its subclass names.</summary>
public abstract class ServerTests(string engine) : IAsyncLifetime
{
    private ServerUnderTest? _server;

    protected string Engine { get; } = engine;
    protected ServerUnderTest Server => _server!;
    protected ApiClient Api => Server.Client;

    /// <summary>The clock the server runs on (the system's unless a test class sets one).</summary>
    protected virtual TimeProvider? Clock => null;

    public virtual async Task InitializeAsync() => _server = await ServerUnderTest.StartAsync(Engine, Clock);

    public virtual async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    /// <summary>A new user of the given role (in another tenant when <paramref name="company"/> is given) and a key pair of theirs.</summary>
    protected async Task<(string User, string Key, string Secret)> NewUserAsync(string name, string role, string? company = null)
    {
        var body = new JsonObject { ["name"] = name, ["role"] = role };
        if (company is not null)
            body["company"] = company;
        var user = (await Api.OkAsync("users.create", body))["id"]!.GetValue<string>();
        var keys = (await Api.OkAsync("auth.create_credentials", new JsonObject { ["user"] = user }))["credentials"]!;
        return (user, keys["access_key"]!.GetValue<string>(), keys["secret_key"]!.GetValue<string>());
    }

    /// <summary>A new user's token, signed in with its key pair.</summary>
    protected async Task<(string Token, string User)> SignInAsNewUserAsync(string role, string? company = null)
    {
        var (user, key, secret) = await NewUserAsync(role, role, company);
        return (await ServerUnderTest.LoginAsync(Server.Api, key, secret), user);
    }

    protected async Task<string> CreateProjectAsync(string name) =>
        (await Api.OkAsync("projects.create", new JsonObject { ["name"] = name }))["id"]!.GetValue<string>();

    protected async Task<string> CreateTaskAsync(string name, string? project = null, string type = "training", JsonObject? extra = null)
    {
        var body = extra?.DeepClone().AsObject() ?? new JsonObject();
        body["name"] = name;
        body["type"] = type;
        if (project is not null)
            body["project"] = project;
        return (await Api.OkAsync("tasks.create", body))["id"]!.GetValue<string>();
    }

    protected async Task<JsonObject> GetTaskAsync(string id) =>
        (JsonObject)(await Api.OkAsync("tasks.get_by_id", new JsonObject { ["task"] = id }))["task"]!;

    /// <summary>Uploads one file to the file server as the SDK does and returns its URL.</summary>
    protected async Task<string> UploadAsync(string path, byte[] bytes)
    {
        using var http = new HttpClient { BaseAddress = Server.Server.FilesUrl };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Api.Token);
        using var form = new MultipartFormDataContent { { new ByteArrayContent(bytes), "/" + path, "/" + path } };
        (await http.PostAsync("/", form)).EnsureSuccessStatusCode();
        return new Uri(Server.Server.FilesUrl, Uri.EscapeDataString(path).Replace("%2F", "/", StringComparison.Ordinal)).ToString();
    }

    protected async Task<bool> FileExistsAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = Server.Server.FilesUrl };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Api.Token);
        return (await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/" + path))).IsSuccessStatusCode;
    }

    protected static JsonObject Scalar(string task, string metric, string variant, long iter, double value, long? timestamp = null) => new()
    {
        ["type"] = "training_stats_scalar",
        ["task"] = task,
        ["metric"] = metric,
        ["variant"] = variant,
        ["iter"] = iter,
        ["value"] = value,
        ["timestamp"] = timestamp ?? 1_700_000_000_000 + iter,
        ["allow_locked"] = false,
        ["model_event"] = false,
    };
}
