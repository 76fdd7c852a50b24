using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Files;

/// <summary>The file server with its files in S3 (moto on loopback): what the SDK does, end to end.</summary>
public sealed class FileServerOnS3Tests : IAsyncLifetime
{
    private ServerUnderTest _server = null!;

    public async Task InitializeAsync() => _server = await ServerUnderTest.StartAsync("sqlite", s3: await MotoServer.CreateBucketAsync());

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Uploads_downloads_ranges_and_deletes_go_through_s3()
    {
        using var http = new HttpClient { BaseAddress = _server.Server.FilesUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _server.Client.Token);
        var bytes = RandomNumberGenerator.GetBytes(12_000_000);
        var form = new MultipartFormDataContent { { new ByteArrayContent(bytes), "/p/exp.1/models/w.bin", "/p/exp.1/models/w.bin" } };
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/", form)).StatusCode);
        Assert.Equal(bytes, await http.GetByteArrayAsync("/p/exp.1/models/w.bin"));
        using var range = new HttpRequestMessage(HttpMethod.Get, "/p/exp.1/models/w.bin") { Headers = { Range = new RangeHeaderValue(10_000_000, 10_000_099) } };
        var partial = await http.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(bytes[10_000_000..10_000_100], await partial.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync("/p/exp.1/models/w.bin")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/p/exp.1/models/w.bin")).StatusCode);
        Assert.False(Directory.Exists(Path.Combine(_server.DataDir, "files", "p")));
    }

    [Fact]
    public async Task A_deleted_tasks_files_are_removed_from_s3()
    {
        var api = _server.Client;
        var (task, path) = await _server.CreateTaskWithArtifactAsync();
        using var http = new HttpClient { BaseAddress = _server.Server.FilesUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/" + path)).StatusCode);
        await api.OkAsync("tasks.delete", new JsonObject { ["task"] = task });
        Assert.Equal(path, (await api.OkAsync("files.run_cleanup"))["deleted"]![0]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/" + path)).StatusCode);
    }
}

/// <summary>The file server mounted under a path of the API port as well (--files-path).</summary>
public sealed class FileServerUnderApiPathTests
{
    [Fact]
    public async Task Files_are_served_under_the_api_path_too()
    {
        await using var server = await ServerUnderTest.StartAsync("sqlite", filesPath: "/files");
        using var http = new HttpClient { BaseAddress = new Uri(server.Api, "/files/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Client.Token);
        Assert.Equal("OK", await http.GetStringAsync("/files"));
        var form = new MultipartFormDataContent { { new ByteArrayContent([5, 6]), "/a/b.bin", "/a/b.bin" } };
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/files/", form)).StatusCode);
        Assert.Equal([5, 6], await http.GetByteArrayAsync("/files/a/b.bin"));
        using var direct = new HttpClient { BaseAddress = server.Server.FilesUrl };
        direct.DefaultRequestHeaders.Authorization = http.DefaultRequestHeaders.Authorization;
        Assert.Equal([5, 6], await direct.GetByteArrayAsync("/a/b.bin"));
        Assert.Equal(200, (await server.Client.CallAsync("projects.get_all")).Status);
    }
}
