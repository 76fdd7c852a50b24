using Slipway.Client;
using Slipway.Client.Configuration;
using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

public sealed class LoginCommandTests(CliServer server) : IClassFixture<CliServer>
{
    private string[] Login(string conf, string? secret = null, params string[] more) =>
    [
        "login", server.Server.ApiUrl.ToString(),
        "--access-key", server.Server.NewAdmin!.AccessKey,
        "--secret-key", secret ?? server.Server.NewAdmin!.SecretKey,
        "--web-server", server.Server.WebUrl.ToString(),
        "--files-server", server.Server.FilesUrl.ToString(),
        "--conf", conf, .. more,
    ];

    [Fact]
    public async Task Login_writes_a_conf_that_the_client_and_the_commands_use()
    {
        var conf = Path.Combine(server.NewFolder(), "clearml.conf");

        var run = (await CliRun.RunAsync(Login(conf))).Ok();

        Assert.Contains("as admin", run.Out, StringComparison.Ordinal);
        using (var client = new SlipwayClient(ClientOptions.FromFile(conf)))
        {
            Assert.Equal(server.Server.FilesUrl.ToString().TrimEnd('/'), client.Options.EffectiveFilesServer.ToString().TrimEnd('/'));
            Assert.NotEmpty(await client.Queues.ListAsync());
        }
        var queues = await CliRun.RunAsync("queue", "list", "--conf", conf, "--json");
        Assert.Contains(queues.Json().AsArray(), q => q!["name"]!.GetValue<string>() == "default");
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(conf));
    }

    [Fact]
    public async Task Wrong_keys_are_rejected_and_nothing_is_written()
    {
        var conf = Path.Combine(server.NewFolder(), "clearml.conf");

        var run = await CliRun.RunAsync(Login(conf, secret: "not-the-secret"));

        Assert.Equal(ExitCodes.Configuration, run.Exit);
        Assert.Contains("rejected the access key and secret key", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(conf));
    }

    [Fact]
    public async Task An_existing_file_is_left_alone_without_force()
    {
        var conf = Path.Combine(server.NewFolder(), "clearml.conf");
        await File.WriteAllTextAsync(conf, "sdk { }\n");

        var run = await CliRun.RunAsync(Login(conf));

        Assert.Equal(ExitCodes.Failed, run.Exit);
        Assert.Contains("--force", run.Error, StringComparison.Ordinal);
        Assert.Equal("sdk { }\n", await File.ReadAllTextAsync(conf));
    }

    [Fact]
    public async Task Force_replaces_the_api_section_keeps_the_rest_and_saves_a_backup()
    {
        var conf = Path.Combine(server.NewFolder(), "clearml.conf");
        const string old = """
            # my settings
            api {
                # an old server
                api_server: http://old.example:8008
                credentials { "access_key": "OLD", "secret_key": "old-secret" }
            }
            sdk {
                development { default_output_uri: "s3://bucket/out" }
                aws.s3 { key: "k", secret: "{not a brace}" }
            }
            """;
        await File.WriteAllTextAsync(conf, old);

        (await CliRun.RunAsync(Login(conf, null, "--force"))).Ok();

        var parsed = Hocon.Parse(await File.ReadAllTextAsync(conf));
        Assert.Equal(server.Server.ApiUrl.ToString().TrimEnd('/'), Hocon.GetString(parsed, "api.api_server"));
        Assert.Equal(server.Server.NewAdmin!.AccessKey, Hocon.GetString(parsed, "api.credentials.access_key"));
        Assert.Equal("s3://bucket/out", Hocon.GetString(parsed, "sdk.development.default_output_uri"));
        Assert.Equal("{not a brace}", Hocon.GetString(parsed, "sdk.aws.s3.secret"));
        Assert.DoesNotContain("old-secret", await File.ReadAllTextAsync(conf), StringComparison.Ordinal);
        Assert.Equal(old, await File.ReadAllTextAsync(conf + ".bak"));
    }

    [Fact]
    public async Task A_file_whose_other_keys_would_override_the_new_ones_is_not_changed()
    {
        var folder = server.NewFolder();
        var conf = Path.Combine(folder, "clearml.conf");
        // A dotted key after the api section wins over the section the command rewrites.
        const string old = "api { api_server: http://old.example:8008 }\napi.credentials.secret_key: \"pinned\"\n";
        await File.WriteAllTextAsync(conf, old);

        var run = await CliRun.RunAsync(Login(conf, null, "--force"));

        Assert.Equal(ExitCodes.Failed, run.Exit);
        Assert.Contains("sets api.credentials.secret_key outside its api { } section", run.Error, StringComparison.Ordinal);
        Assert.Equal(old, await File.ReadAllTextAsync(conf));
        Assert.Equal(["clearml.conf"], Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Missing_keys_are_a_usage_error_when_there_is_no_terminal_to_ask_on()
    {
        var conf = Path.Combine(server.NewFolder(), "clearml.conf");

        var run = await CliRun.RunAsync("login", server.Server.ApiUrl.ToString(), "--conf", conf);

        Assert.Equal(ExitCodes.Usage, run.Exit);
        Assert.Contains("--access-key is required", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(conf));
    }

    [Fact]
    public async Task Missing_keys_are_asked_for_on_a_terminal()
    {
        var conf = Path.Combine(server.NewFolder(), "clearml.conf");
        var asked = new List<(string Label, bool Secret)>();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CliConsole(output, error)
        {
            Prompt = (label, secret) =>
            {
                asked.Add((label, secret));
                return secret ? server.Server.NewAdmin!.SecretKey : server.Server.NewAdmin!.AccessKey;
            },
        };

        var exit = await Cli.RunAsync(["login", server.Server.ApiUrl.ToString(), "--files-server", server.Server.FilesUrl.ToString(), "--conf", conf],
            console, handleTermination: false);

        Assert.True(exit == 0, error.ToString());
        Assert.Equal([("Access key", false), ("Secret key", true)], asked);
        Assert.Equal(server.Server.NewAdmin!.SecretKey, ClientOptions.FromFile(conf).SecretKey);
    }
}
