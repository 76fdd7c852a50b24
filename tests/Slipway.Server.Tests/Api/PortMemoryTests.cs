using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>Port 0 and a restart: the data folder remembers the ports it chose, so stored file links keep working.</summary>
public sealed class PortMemoryTests
{
    [Fact]
    public async Task A_restart_with_port_0_takes_the_same_ports_and_old_file_links_still_download()
    {
        var first = await ServerUnderTest.StartAsync("sqlite");
        var (task, _) = await first.CreateTaskWithArtifactAsync();
        var link = (await first.Client.OkAsync("tasks.get_by_id", new System.Text.Json.Nodes.JsonObject { ["task"] = task }))["task"]!["execution"]!["artifacts"]![0]!["uri"]!.GetValue<string>();
        var (api, web, files) = (first.Server.ApiUrl, first.Server.WebUrl, first.Server.FilesUrl);
        await first.StopAsync();

        await using var again = await ServerUnderTest.StartAsync("sqlite", dataDir: first.DataDir);
        Assert.Equal((api, web, files), (again.Server.ApiUrl, again.Server.WebUrl, again.Server.FilesUrl));
        var token = await ServerUnderTest.LoginAsync(again.Api, first.Admin.AccessKey, first.Admin.SecretKey);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, link) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([1, 2], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_remembered_port_that_another_program_took_is_replaced_and_the_start_succeeds()
    {
        var first = await ServerUnderTest.StartAsync("sqlite");
        var files = first.Server.FilesUrl.Port;
        var api = first.Server.ApiUrl.Port;
        await first.StopAsync();

        using var squatter = new TcpListener(IPAddress.Loopback, files);
        squatter.Start();
        await using var again = await ServerUnderTest.StartAsync("sqlite", dataDir: first.DataDir);
        Assert.NotEqual(files, again.Server.FilesUrl.Port);
        Assert.Equal(api, again.Server.ApiUrl.Port);
        Assert.Contains($":{again.Server.FilesUrl.Port}", await File.ReadAllTextAsync(Path.Combine(first.DataDir, "clearml.conf")), StringComparison.Ordinal);
    }
}
