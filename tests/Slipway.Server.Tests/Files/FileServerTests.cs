using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Files;

public sealed class FileServerTests : ServerTests
{
    public FileServerTests() : base("sqlite")
    {
    }

    private HttpClient Files(string? token = null)
    {
        var http = new HttpClient { BaseAddress = Server.Server.FilesUrl };
        if ((token ?? Api.Token) is { } t)
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", t);
        return http;
    }

    /// <summary>A multipart body written byte by byte, so field names go out exactly as given (HttpClient would refuse some).</summary>
    private static ByteArrayContent Parts(params (string Field, byte[] Bytes)[] parts)
    {
        const string boundary = "slipway-test-boundary";
        var body = new MemoryStream();
        foreach (var (field, bytes) in parts)
        {
            body.Write(Encoding.UTF8.GetBytes($"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{field}\"\r\n\r\n"));
            body.Write(bytes);
            body.Write("\r\n"u8);
        }
        body.Write(Encoding.ASCII.GetBytes($"--{boundary}--\r\n"));
        var content = new ByteArrayContent(body.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", $"multipart/form-data; boundary={boundary}");
        return content;
    }

    [Fact]
    public async Task Uploaded_files_come_back_byte_for_byte_with_ranges_heads_and_types()
    {
        using var http = Files();
        var weights = RandomNumberGenerator.GetBytes(300_000);
        var json = Encoding.UTF8.GetBytes("""{"rows": 2}""");
        var upload = await http.PostAsync("/", Parts(("/proj/exp.1/models/weights.bin", weights), ("/proj/exp.1/artifacts/stats/stats.json", json)));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        Assert.Equal("""["proj/exp.1/models/weights.bin","proj/exp.1/artifacts/stats/stats.json"]""", await upload.Content.ReadAsStringAsync());

        Assert.Equal(weights, await http.GetByteArrayAsync("/proj/exp.1/models/weights.bin"));
        var stats = await http.GetAsync("/proj/exp.1/artifacts/stats/stats.json");
        Assert.Equal("application/json", stats.Content.Headers.ContentType!.MediaType);

        using var range = new HttpRequestMessage(HttpMethod.Get, "/proj/exp.1/models/weights.bin") { Headers = { Range = new RangeHeaderValue(1000, 1999) } };
        var partial = await http.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(weights[1000..2000], await partial.Content.ReadAsByteArrayAsync());
        // An open-ended range over more than one of the server's 256 KiB send blocks.
        using var rest = new HttpRequestMessage(HttpMethod.Get, "/proj/exp.1/models/weights.bin") { Headers = { Range = new RangeHeaderValue(1000, null) } };
        var tail = await http.SendAsync(rest);
        Assert.Equal(HttpStatusCode.PartialContent, tail.StatusCode);
        Assert.Equal(weights[1000..], await tail.Content.ReadAsByteArrayAsync());

        var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/proj/exp.1/models/weights.bin"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(300_000, head.Content.Headers.ContentLength);
        var download = await http.GetAsync("/proj/exp.1/models/weights.bin?download");
        Assert.Equal("weights.bin", download.Content.Headers.ContentDisposition!.FileName!.Trim('"'));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/proj/nothing.bin")).StatusCode);
        Assert.Equal("OK", await new HttpClient { BaseAddress = Server.Server.FilesUrl }.GetStringAsync("/"));
    }

    [Fact]
    public async Task Names_are_stored_literally_and_request_paths_decoded_once()
    {
        using var http = Files();
        // What the SDK sends for project "p#1 ?x", task "n%a&b": the field quoted once, the URL quoted twice.
        const string field = "/p%231 %3Fx/n%25a%26b.abc/artifacts/st/st.json";
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/", Parts((field, [1, 2, 3])))).StatusCode);
        Assert.Equal([1, 2, 3], await http.GetByteArrayAsync(new Uri(Server.Server.FilesUrl, "/p%25231%20%253Fx/n%2525a%2526b.abc/artifacts/st/st.json")));
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/", Parts(("/ünï/ça va #1.txt", [9])))).StatusCode);
        Assert.Equal([9], await http.GetByteArrayAsync(new Uri(Server.Server.FilesUrl, "/%C3%BCn%C3%AF/%C3%A7a%20va%20%231.txt")));
    }

    public static TheoryData<string> HostileFieldNames() =>
    [
        "../escape.txt", "/../escape.txt", "a/../../escape.txt", "..", ".", "a/./b", "a//b", "//etc/passwd",
        "C:/Windows/win.ini", "c:\\boot.ini", "a\\..\\..\\b", "a\u0000b", "a\nb", "/", "", new string('x', 300),
        "a/" + new string('y', 1100), ".slipway-incoming/x", "a/..", "./a",
    ];

    [Theory]
    [MemberData(nameof(HostileFieldNames))]
    public async Task Hostile_upload_paths_are_refused_and_nothing_is_written(string field)
    {
        using var http = Files();
        var reply = await http.PostAsync("/", Parts(("/fine/before.txt", [1]), (field, [2])));
        Assert.Equal(HttpStatusCode.BadRequest, reply.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/fine/before.txt")).StatusCode);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Server.DataDir, "files"), "*", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(Server.DataDir, "escape.txt")));
    }

    [Theory]
    [InlineData("/..%2f..%2fslipway.db")]
    [InlineData("/a%2F..%2F..%2Fslipway.db")]
    [InlineData("/%2e%2e/slipway.db")]
    [InlineData("/a/%2e%2e/%2e%2e/slipway.db")]
    [InlineData("/a%5c..%5c..%5cslipway.db")]
    [InlineData("/a%00b")]
    [InlineData("/.slipway-incoming/x")]
    [InlineData("/a/../../slipway.db")]
    [InlineData("/../clearml.conf")]
    public async Task Hostile_request_paths_are_refused(string path)
    {
        // Sent over a raw socket: HttpClient would normalise dot segments before the server saw them.
        Assert.Equal(400, await RawStatusAsync("GET", path));
        Assert.Equal(400, await RawStatusAsync("DELETE", path));
    }

    private async Task<int> RawStatusAsync(string method, string target)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, Server.Server.FilesUrl.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Api.Token}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var status = await reader.ReadLineAsync() ?? "";
        return int.Parse(status.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task An_interrupted_upload_is_never_visible()
    {
        var incoming = Path.Combine(Server.DataDir, "files", ".slipway-incoming");
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync(IPAddress.Loopback, Server.Server.FilesUrl.Port);
            var stream = socket.GetStream();
            const string boundary = "XyZ";
            var head = $"--{boundary}\r\nContent-Disposition: form-data; name=\"/cut/off.bin\"; filename=\"/cut/off.bin\"\r\n\r\n";
            var request = $"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Api.Token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 10000000\r\n\r\n{head}";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
            await stream.WriteAsync(new byte[500_000]);
            await stream.FlushAsync();
            // The server is receiving the part once its staging file exists; only then is the connection dropped.
            Assert.True(await EventuallyAsync(() => Directory.EnumerateFiles(incoming).Any()), "the upload never started");
        }
        Assert.True(await EventuallyAsync(() => !Directory.EnumerateFiles(incoming).Any()), "the partial upload was not discarded");
        using var http = Files();
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/cut/off.bin")).StatusCode);
    }

    /// <summary>Waits for a condition the server brings about on its own time (bounded: 20 s).</summary>
    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var waited = 0; waited < 20_000; waited += 20)
        {
            if (condition())
                return true;
            await Task.Delay(20);
        }
        return condition();
    }

    [Fact]
    public async Task Concurrent_uploads_to_one_path_leave_one_intact_file()
    {
        var contents = Enumerable.Range(0, 8).Select(i => Enumerable.Repeat((byte)i, 1_000_000).ToArray()).ToList();
        await Task.WhenAll(contents.Select(async bytes =>
        {
            using var http = Files();
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/", Parts(("/same/path.bin", bytes)))).StatusCode);
        }));
        using var reader = Files();
        var stored = await reader.GetByteArrayAsync("/same/path.bin");
        Assert.Contains(contents, c => c.AsSpan().SequenceEqual(stored));
    }

    [Fact]
    public async Task The_token_is_required_and_the_web_cookie_only_reads()
    {
        using var anonymous = Files(token: "");
        anonymous.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/", Parts(("/a.txt", [1])))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/a.txt")).StatusCode);
        using var forged = Files(token: "x.y.z");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/a.txt")).StatusCode);
        using var withToken = Files();
        Assert.Equal(HttpStatusCode.OK, (await withToken.PostAsync("/", Parts(("/a.txt", [1])))).StatusCode);
        // The UI's links download with its cookie; writing with it is refused, so a page on the same site cannot use it.
        using var withCookie = new HttpClient { BaseAddress = Server.Server.FilesUrl };
        withCookie.DefaultRequestHeaders.Add("Cookie", $"clearml_token_basic={Api.Token}");
        Assert.Equal(HttpStatusCode.OK, (await withCookie.GetAsync("/a.txt")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await withCookie.PostAsync("/", Parts(("/b.txt", [1])))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await withCookie.DeleteAsync("/a.txt")).StatusCode);
    }

    [Fact]
    public async Task Files_are_deleted_one_by_one_or_many_at_once()
    {
        using var http = Files();
        await http.PostAsync("/", Parts(("/d/one.txt", [1]), ("/d/two.txt", [2]), ("/d/three.txt", [3])));
        Assert.Equal("\"d/one.txt\"", await (await http.DeleteAsync("/d/one.txt")).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync("/d/one.txt")).StatusCode);
        var many = await http.PostAsync("/delete_many", new StringContent("""{"files": ["d/two.txt", "/d/three.txt", "d/none.txt", "../x"]}""", Encoding.UTF8, "application/json"));
        var result = await many.Content.ReadAsStringAsync();
        Assert.Contains("\"d/two.txt\":true", result, StringComparison.Ordinal);
        Assert.Contains("\"/d/three.txt\":true", result, StringComparison.Ordinal);
        Assert.Contains("\"d/none.txt\":\"not found\"", result, StringComparison.Ordinal);
        Assert.Contains("\"../x\":", result, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/d/three.txt")).StatusCode);
    }
}
