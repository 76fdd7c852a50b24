using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Slipway.Server.Storage;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>What a start leaves on disk and on the network: owner-only files, one port per purpose, keys that are delivered.</summary>
public sealed class StartTests : IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "slipway-start-test-" + Guid.NewGuid().ToString("N")[..12]);

    [Fact]
    public async Task The_data_folder_database_and_keys_are_readable_by_the_owner_only()
    {
        if (OperatingSystem.IsWindows())
            return;
        await using (var server = await StartAsync())
        {
            // The web UI makes its first key when a page needs one.
            using var http = new HttpClient();
            (await http.GetAsync(new Uri(server.WebUrl, "login"))).EnsureSuccessStatusCode();
            Assert.Equal(Folder, Mode(_dataDir));
            Assert.Equal(Folder, Mode(Path.Combine(_dataDir, "files")));
            Assert.Equal(Folder, Mode(Path.Combine(_dataDir, "web-keys")));
            Assert.Equal(File600, Mode(Path.Combine(_dataDir, "clearml.conf")));
            Assert.Equal(File600, Mode(Path.Combine(_dataDir, "slipway.db")));
            Assert.Equal(File600, Mode(Path.Combine(_dataDir, "slipway.db-wal")));
            var keys = Directory.GetFiles(Path.Combine(_dataDir, "web-keys"));
            Assert.NotEmpty(keys);
            foreach (var key in keys)
                Assert.Equal(File600, Mode(key));
        }
    }

    [Fact]
    public async Task A_data_folder_left_open_by_an_older_version_is_tightened()
    {
        if (OperatingSystem.IsWindows())
            return;
        await (await StartAsync()).DisposeAsync();
        var open = Folder | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(_dataDir, open);
        File.SetUnixFileMode(Path.Combine(_dataDir, "web-keys"), open);
        File.SetUnixFileMode(Path.Combine(_dataDir, "slipway.db"), File600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using var again = await StartAsync();
        Assert.Equal(Folder, Mode(_dataDir));
        Assert.Equal(Folder, Mode(Path.Combine(_dataDir, "web-keys")));
        Assert.Equal(File600, Mode(Path.Combine(_dataDir, "slipway.db")));
    }

    [Fact]
    public async Task The_api_port_answers_the_api_only_and_the_web_port_the_ui_only()
    {
        await using var server = await StartAsync(filesPath: "/files");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        async Task<HttpStatusCode> Get(Uri root, string path) => (await http.GetAsync(new Uri(root, path))).StatusCode;

        Assert.Equal(HttpStatusCode.OK, await Get(server.WebUrl, "login"));
        Assert.Equal(HttpStatusCode.OK, await Get(server.WebUrl, "assets/app.css"));
        foreach (var path in new[] { "login", "", "projects", "assets/app.css", "settings" })
            Assert.Equal(HttpStatusCode.NotFound, await Get(server.ApiUrl, path));
        using (var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["access_key"] = "a", ["secret_key"] = "b" }))
            Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync(new Uri(server.ApiUrl, "auth/login"), form)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, await Get(server.ApiUrl, "debug.ping"));
        Assert.Equal(HttpStatusCode.Unauthorized, await Get(server.ApiUrl, "metrics"));
        foreach (var path in new[] { "debug.ping", "v2.13/debug.ping", "auth.login", "metrics", "files/a.txt" })
            Assert.Equal(HttpStatusCode.NotFound, await Get(server.WebUrl, path));
        using (var body = new StringContent("{}", Encoding.UTF8, "application/json"))
            Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync(new Uri(server.WebUrl, "tasks.get_all"), body)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, await Get(server.ApiUrl, "health"));
        Assert.Equal(HttpStatusCode.OK, await Get(server.WebUrl, "health"));
    }

    [Fact]
    public async Task The_file_server_under_files_path_answers_on_the_api_port()
    {
        await using var server = await StartAsync(filesPath: "/files");
        var token = await ServerUnderTest.LoginAsync(server.ApiUrl, server.NewAdmin!.AccessKey, server.NewAdmin.SecretKey);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var form = new MultipartFormDataContent { { new ByteArrayContent([7, 8]), "/p/a.bin", "/p/a.bin" } };
        (await http.PostAsync(new Uri(server.ApiUrl, "files/"), form)).EnsureSuccessStatusCode();
        Assert.Equal([7, 8], await http.GetByteArrayAsync(new Uri(server.ApiUrl, "files/p/a.bin")));
        Assert.Equal([7, 8], await http.GetByteArrayAsync(new Uri(server.FilesUrl, "p/a.bin")));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(server.WebUrl, "files/p/a.bin"))).StatusCode);
    }

    [Fact]
    public async Task A_first_start_on_a_busy_port_fails_clearly_and_the_next_start_delivers_working_keys()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var failure = await Assert.ThrowsAsync<ServerStartException>(() => StartAsync(apiPort: port));
        Assert.Equal($"port {port} is in use (change it with --api-port or SLIPWAY_API_PORT)", failure.Message);

        await using var server = await StartAsync();
        Assert.NotNull(server.NewAdmin);
        await AssertConfLogsInAsync(server);
        // The log names the key pair and where it is, never its secret.
        Assert.True(_logs.Contains(LogLevel.Information, $"Made the admin key pair {server.NewAdmin.AccessKey}; it is in {server.ConfigPath}"));
        Assert.DoesNotContain(_logs.Entries, e => e.Message.Contains(server.NewAdmin.SecretKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_start_that_never_delivered_the_admin_keys_makes_the_admin_a_fresh_pair()
    {
        // What a failed first start left before starts became atomic: the admin and a key pair nobody was given,
        // recorded as never delivered, and a clearml.conf with empty keys.
        await (await StartAsync()).DisposeAsync();
        await using (var stores = await Stores.OpenAsync(null, Path.Combine(_dataDir, "slipway.db"), CancellationToken.None))
            Assert.True(await stores.Docs.DeleteAsync(Collection.Settings, "admin_keys_delivered"));
        var conf = Path.Combine(_dataDir, "clearml.conf");
        await File.WriteAllTextAsync(conf, Regex.Replace(await File.ReadAllTextAsync(conf), "\"(access|secret)_key\": \"[^\"]*\"", "\"$1_key\": \"\""));

        await using (var repaired = await StartAsync())
        {
            Assert.NotNull(repaired.NewAdmin);
            var token = await AssertConfLogsInAsync(repaired);
            using var admin = new ApiClient(repaired.ApiUrl, token);
            var me = (await admin.OkAsync("users.get_current_user"))["user"]!;
            Assert.Equal("admin", me["name"]!.GetValue<string>());
            Assert.Single((await admin.OkAsync("users.get_all", new JsonObject()))["users"]!.AsArray());
        }
        await using var later = await StartAsync();
        Assert.Null(later.NewAdmin);
        await AssertConfLogsInAsync(later);
        Assert.Equal(2, _logs.Entries.Count(e => e.Message.StartsWith("Made the admin key pair", StringComparison.Ordinal)));

    }

    private static async Task<string> AssertConfLogsInAsync(SlipwayServer server)
    {
        var keys = ClearmlConf.ReadCredentials(server.ConfigPath);
        Assert.NotNull(keys);
        return await ServerUnderTest.LoginAsync(server.ApiUrl, keys.AccessKey, keys.SecretKey);
    }

    private readonly LogRecorder _logs = new();

    private Task<SlipwayServer> StartAsync(int apiPort = 0, string filesPath = "") => SlipwayServer.StartAsync(
        new ServerOptions
        {
            DataDir = _dataDir, ApiPort = apiPort, WebPort = 0, FilesPort = 0, FilesPath = filesPath,
            CleanupInterval = TimeSpan.Zero, WatchdogTimeout = TimeSpan.Zero,
        },
        _logs.AddTo);

    private const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static UnixFileMode Mode(string path) => File.GetUnixFileMode(path);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
