using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>A write that finds the disk full answers 507 with the reason, and leaves nothing half-written.</summary>
public sealed class DiskFullTests
{
    private static string NewDataDir() => Path.Combine(Path.GetTempPath(), "slipway-test-" + Guid.NewGuid().ToString("N")[..12]);

    [TmpfsFact]
    public async Task An_upload_onto_a_full_disk_is_a_507_and_leaves_no_file()
    {
        var dataDir = NewDataDir();
        var disk = Tmpfs.Mount(Path.Combine(dataDir, "files"), "1m");
        try
        {
            await UploadOntoFullDiskAsync(dataDir, disk);
        }
        finally
        {
            disk.Dispose();
            Directory.Delete(dataDir, true);
        }
    }

    private static async Task UploadOntoFullDiskAsync(string dataDir, Tmpfs disk)
    {
        await using var server = await ServerUnderTest.StartAsync("sqlite", dataDir: dataDir);
        using var http = new HttpClient { BaseAddress = server.Server.FilesUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Client.Token);

        using var big = new MultipartFormDataContent
        {
            { new ByteArrayContent(new byte[100_000]), "/p/small.bin", "/p/small.bin" },
            { new ByteArrayContent(new byte[3_000_000]), "/p/big.bin", "/p/big.bin" },
        };
        using var full = await http.PostAsync("/", big);
        Assert.Equal(507, (int)full.StatusCode);
        Assert.Contains("disk is full", await full.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Neither part is published (the first arrived whole, but the upload is one unit), and no staged bytes remain.
        Assert.Equal(404, (int)(await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/p/small.bin"))).StatusCode);
        Assert.Equal(404, (int)(await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/p/big.bin"))).StatusCode);
        Assert.Empty(Directory.EnumerateFiles(disk.Folder, "*", SearchOption.AllDirectories));

        using var small = new MultipartFormDataContent { { new ByteArrayContent(new byte[10_000]), "/p/after.bin", "/p/after.bin" } };
        (await http.PostAsync("/", small)).EnsureSuccessStatusCode();
    }

    [TmpfsFact]
    public async Task A_database_on_a_full_disk_answers_507_and_keeps_what_it_said_it_kept()
    {
        var dataDir = NewDataDir();
        var disk = Tmpfs.Mount(dataDir, "2m");
        try
        {
            await WriteOntoFullDiskAsync(dataDir);
        }
        finally
        {
            disk.Dispose();
            Directory.Delete(dataDir, true);
        }
    }

    private static async Task WriteOntoFullDiskAsync(string dataDir)
    {
        await using var server = await ServerUnderTest.StartAsync("sqlite", dataDir: dataDir);
        var comment = new string('c', 200_000);
        var created = new List<string>();
        Reply? refused = null;
        for (var i = 0; i < 40 && refused is null; i++)
        {
            var reply = await server.Client.CallAsync("tasks.create", new JsonObject { ["name"] = $"t{i}", ["type"] = "training", ["comment"] = comment });
            if (reply.Status == 200)
                created.Add(reply.Data["id"]!.GetValue<string>());
            else
                refused = reply;
        }
        Assert.NotNull(refused);
        Assert.Equal(507, refused.Status);
        Assert.Contains("disk is full", refused.Message, StringComparison.Ordinal);
        var all = await server.Client.OkAsync("tasks.get_all", new JsonObject { ["only_fields"] = new JsonArray("id") });
        Assert.Equal(created.Order(), all["tasks"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()).Order());
    }
}

/// <summary>A data folder that cannot be written stops start-up with one exception that names it.</summary>
public sealed class ReadOnlyDataFolderTests
{
    [TmpfsFact]
    public async Task A_read_only_data_folder_stops_start_up_with_a_clear_message()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "slipway-test-" + Guid.NewGuid().ToString("N")[..12]);
        var disk = Tmpfs.Mount(dataDir, "64k", readOnly: true);
        try
        {
            foreach (var folder in new[] { dataDir, Path.Combine(dataDir, "sub") })
            {
                var e = await Assert.ThrowsAsync<ServerStartException>(() => ServerUnderTest.StartAsync("sqlite", dataDir: folder));
                Assert.Equal(folder, Assert.IsType<DataFolderNotWritableException>(e.InnerException).Folder);
                Assert.StartsWith($"the data folder {folder} is not writable", e.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            disk.Dispose();
            Directory.Delete(dataDir, true);
        }
    }
}
