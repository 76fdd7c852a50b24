using Slipway.Client.Configuration;

namespace Slipway.Client.Tests.Configuration;

public sealed class ConfigurationTests
{
    private const string Conf = """
        # written by clearml-init
        api {
            # comment
            api_server: http://10.0.0.5:8008
            web_server: "http://10.0.0.5:8080"
            files_server: http://10.0.0.5:8081 // trailing comment
            credentials {"access_key": "AK", "secret_key": "S\"K"}
            http.retries { total: 240, backoff_factor = 1.5 }
        }
        sdk.development.default_output_uri: ""
        api { verify_certificate: false }
        agent { package_manager { type: pip, system_site_packages = true }, queues: [a, "b", 3] }
        """;

    [Fact]
    public void The_hocon_subset_of_clearml_conf_parses()
    {
        var root = Hocon.Parse(Conf);
        Assert.Equal("http://10.0.0.5:8008", Hocon.GetString(root, "api.api_server"));
        Assert.Equal("http://10.0.0.5:8080", Hocon.GetString(root, "api.web_server"));
        Assert.Equal("http://10.0.0.5:8081", Hocon.GetString(root, "api.files_server"));
        Assert.Equal("AK", Hocon.GetString(root, "api.credentials.access_key"));
        Assert.Equal("S\"K", Hocon.GetString(root, "api.credentials.secret_key"));
        Assert.Equal("240", Hocon.GetString(root, "api.http.retries.total"));
        Assert.Equal("1.5", Hocon.GetString(root, "api.http.retries.backoff_factor"));
        Assert.Equal("false", Hocon.GetString(root, "api.verify_certificate"));
        Assert.Equal("pip", Hocon.GetString(root, "agent.package_manager.type"));
        Assert.Equal(3, root["agent"]!["queues"]!.AsArray().Count);
        Assert.Equal("", Hocon.GetString(root, "sdk.development.default_output_uri"));
    }

    [Theory]
    [InlineData("api { api_server: ", "line 1")]
    [InlineData("api {\n api_server: http://x\n", "missing '}'")]
    [InlineData("a: ${b}", "substitutions")]
    [InlineData("a: \"open", "unterminated")]
    public void Malformed_files_name_the_problem(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => Hocon.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variables_override_the_file_and_hosts_are_derived()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, Conf);
            var fromFile = ClientOptions.FromEnvironment(file);
            Assert.Equal(new Uri("http://10.0.0.5:8008"), fromFile.ApiServer);
            Assert.Equal("AK", fromFile.AccessKey);

            File.WriteAllText(file, "api { api_server: http://h:8008 \n credentials { access_key: A, secret_key: B } }");
            var derived = ClientOptions.FromEnvironment(file);
            Assert.Equal(new Uri("http://h:8080"), derived.EffectiveWebServer);
            Assert.Equal(new Uri("http://h:8081"), derived.EffectiveFilesServer);

            File.WriteAllText(file, "api.api_server: https://api.example.org");
            Assert.Equal("app.example.org", ClientOptions.FromEnvironment(file).EffectiveWebServer.Host);
            Assert.Equal("files.example.org", ClientOptions.FromEnvironment(file).EffectiveFilesServer.Host);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_missing_server_is_a_clear_error()
    {
        var e = Assert.Throws<SlipwayException>(() => ClientOptions.FromEnvironment("/nonexistent/clearml.conf"));
        Assert.Contains("CLEARML_API_HOST", e.Message, StringComparison.Ordinal);
    }
}
