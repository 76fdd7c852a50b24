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

    /// <summary>
    /// PostgreSQL on a full disk: the database's tables live in a tablespace on a small tmpfs (its catalog and WAL do
    /// not), so a write that extends a table fails with disk_full (53100) and rolls back, as on a full data disk.
    /// </summary>
    [TmpfsPostgresFact]
    public async Task A_postgres_database_on_a_full_disk_answers_507_and_keeps_what_it_said_it_kept()
    {
        var dataDir = NewDataDir();
        var tablespace = "full_" + Guid.NewGuid().ToString("N")[..8];
        var disk = Tmpfs.Mount(Path.Combine(Path.GetTempPath(), "slipway-pg-" + tablespace), "4m");
        var database = PostgresCluster.CreateDatabase();
        try
        {
            using (var chown = System.Diagnostics.Process.Start("chown", ["postgres", disk.Folder]))
                await chown.WaitForExitAsync();
            PostgresCluster.Execute($"CREATE TABLESPACE {tablespace} LOCATION '{disk.Folder}'");
            PostgresCluster.Execute($"ALTER DATABASE {new Npgsql.NpgsqlConnectionStringBuilder(database).Database} SET default_tablespace = {tablespace}");
            await WriteOntoFullDiskAsync(dataDir, "postgres", database);
        }
        finally
        {
            PostgresCluster.DropDatabase(database); // the server dropped it already, unless it failed to start
            PostgresCluster.Execute($"DROP TABLESPACE IF EXISTS {tablespace}");
            disk.Dispose();
        }
    }

    private static async Task WriteOntoFullDiskAsync(string dataDir, string engine = "sqlite", string? database = null)
    {
        await using var server = await ServerUnderTest.StartAsync(engine, dataDir: dataDir, database: database);
        // Random text: PostgreSQL compresses a repeated one to almost nothing.
        var comment = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(150_000));
        var created = new List<string>();
        Reply? refused = null;
        for (var i = 0; i < 100 && refused is null; i++)
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
