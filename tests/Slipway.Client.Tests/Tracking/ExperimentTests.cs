using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Slipway.Client.Tests.Infrastructure;
using Slipway.Client.Tracking;
using Slipway.Server;

namespace Slipway.Client.Tests.Tracking;

public sealed class ExperimentTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private static ExperimentOptions Options(SlipwayClient client, string name) => new()
    {
        Project = "tracking/" + Guid.NewGuid().ToString("N")[..6],
        Name = name,
        Client = client,
        HandleProcessExit = false,
        CaptureConsole = false,
        CaptureArguments = false,
        MonitorInterval = null,
        FlushInterval = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task Everything_a_run_reports_reaches_the_server()
    {
        using var client = server.NewClient();
        var folder = Directory.CreateTempSubdirectory("slipway-run-").FullName;
        try
        {
            await using var run = await Experiment.StartAsync(Options(client, "everything"));
            var parameters = await run.ConnectAsync(new TrainingParameters());
            var extra = await run.ConnectAsync(new Dictionary<string, object?> { ["dropout"] = 0.25, ["layers"] = 4 }, "Model");
            var config = await run.ConnectConfigurationAsync("net", new NetConfig(["conv", "dense"], 128));

            for (var i = 0; i < 10_000; i++)
            {
                run.Log.Scalar("loss", "train", 1.0 / (i + 1), i);
                if (i % 10 == 0)
                    run.Log.Scalar("loss", "validation", 2.0 / (i + 1), i);
            }
            run.Log.Scalar("odd", "nan", double.NaN, 0);
            run.Log.SingleValue("accuracy", 0.93);
            run.Log.Text("hello console");
            run.Log.Table("confusion", "epoch 1", ["class", "count"], [["cat", 3], ["dog", 5]]);
            run.Log.Scatter("roc", "model", [(0, 0), (0.2, 0.7), (1, 1)]);
            byte[] png = [0x89, 0x50, 0x4E, 0x47, 1, 2, 3];
            await run.Log.ImageAsync("samples", "input", png, 7);

            var file = Path.Combine(folder, "predictions.csv");
            await File.WriteAllTextAsync(file, "id,p\n1,0.5\n");
            Directory.CreateDirectory(Path.Combine(folder, "plots", "sub"));
            await File.WriteAllTextAsync(Path.Combine(folder, "plots", "sub", "a.txt"), "A");
            var csv = await run.UploadArtifactAsync("predictions", file);
            var dir = await run.UploadArtifactAsync("plots", Path.Combine(folder, "plots"));
            var obj = await run.UploadObjectArtifactAsync("summary", new { Best = 0.93, Epoch = 4 });
            var weights = Path.Combine(folder, "model.onnx");
            await File.WriteAllBytesAsync(weights, Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray());
            var model = await run.RegisterOutputModelAsync(weights, iteration: 9999);
            await run.UseInputModelAsync(model.Id, "pretrained");
            await run.CompleteAsync();

            var task = await client.Tasks.GetAsync(run.Id);
            Assert.Equal("completed", task.Status);
            Assert.Equal("0.001", task.Parameters["General/LearningRate"]);
            Assert.Equal("Adam", task.Parameters["General/Optimizer"]);
            Assert.Equal("4", task.Parameters["Model/layers"]);
            Assert.Equal(0.25, extra["dropout"]);
            Assert.Equal(10, parameters.Epochs);
            Assert.Contains("\"Width\": 128", task.Configuration["net"], StringComparison.Ordinal);
            Assert.Equal(128, config.Width);

            var scalars = await client.Tasks.GetScalarsAsync(run.Id);
            var train = scalars["loss"]["train"];
            Assert.Equal(10_000, train.Iterations.Length);
            Assert.Equal(Enumerable.Range(0, 10_000).Select(i => 1.0 / (i + 1)), train.Values);
            Assert.Equal(1_000, scalars["loss"]["validation"].Values.Length);
            Assert.Equal(9999, task.LastIteration);

            var single = await client.CallAsync("events.get_task_single_value_metrics", new() { ["tasks"] = new JsonArray(run.Id) });
            Assert.Contains("0.93", single.ToJsonString(), StringComparison.Ordinal);
            var plots = await client.CallAsync("events.get_task_plots", new() { ["task"] = run.Id, ["iters"] = 1 });
            Assert.Contains("confusion", plots.ToJsonString(), StringComparison.Ordinal);
            Assert.Contains("roc", plots.ToJsonString(), StringComparison.Ordinal);
            var console = await client.Tasks.GetConsoleAsync(run.Id).ToListAsync();
            Assert.Contains(console, e => e.Message == "hello console");

            var images = await client.CallAsync("events.debug_images", new() { ["metrics"] = new JsonArray(new JsonObject { ["task"] = run.Id }), ["iters"] = 1 });
            var url = images.ToJsonString().Split('"').First(s => s.StartsWith("http", StringComparison.Ordinal) && s.EndsWith(".png", StringComparison.Ordinal));
            Assert.Contains("samples_input_00000007.png", url, StringComparison.Ordinal);
            Assert.Equal(png, await DownloadAsync(client, url));

            Assert.Equal("id,p\n1,0.5\n"u8.ToArray(), await DownloadAsync(client, task.Artifacts["predictions"].Uri!));
            Assert.Equal(csv.Hash, task.Artifacts["predictions"].Hash);
            Assert.Equal("folder", task.Artifacts["plots"].Type);
            Assert.Equal(dir.Uri, task.Artifacts["plots"].Uri);
            Assert.Contains("\"Best\": 0.93", System.Text.Encoding.UTF8.GetString(await DownloadAsync(client, obj.Uri!)), StringComparison.Ordinal);

            Assert.Contains(task.OutputModels, m => m.ModelId == model.Id);
            Assert.Contains(task.InputModels, m => m.ModelId == model.Id && m.Name == "pretrained");
            Assert.Equal("ONNX", model.Framework);
            Assert.Equal(run.Id, model.TaskId);
            Assert.Contains($"/{run.Name}.{run.Id}/models/model.onnx", model.Uri, StringComparison.Ordinal);
            var cache = Path.Combine(folder, "cache");
            var local = await client.Models.GetLocalCopyAsync(model.Id, cache);
            Assert.Equal(await File.ReadAllBytesAsync(weights), await File.ReadAllBytesAsync(local));
            var written = File.GetLastWriteTimeUtc(local);
            Assert.Equal(local, await client.Models.GetLocalCopyAsync(model.Id, cache));
            Assert.Equal(written, File.GetLastWriteTimeUtc(local));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Reports_made_while_the_server_is_down_arrive_when_it_is_back()
    {
        var port = LoopbackPort.Free();
        var dataDir = Path.Combine(Path.GetTempPath(), "slipway-outage-" + Guid.NewGuid().ToString("N")[..8]);
        ServerOptions ServerOptions() => new() { DataDir = dataDir, Host = "127.0.0.1", ApiPort = port, WebPort = 0, FilesPort = 0 };
        var first = await SlipwayServer.StartAsync(ServerOptions(), logging => logging.AddFilter(_ => false));
        var admin = first.NewAdmin!;
        try
        {
            using var client = new SlipwayClient(new ClientOptions
            {
                ApiServer = first.ApiUrl, FilesServer = first.FilesUrl, AccessKey = admin.AccessKey, SecretKey = admin.SecretKey,
                MaxRetries = 1, RetryBaseDelay = TimeSpan.FromMilliseconds(20), RetryMaxDelay = TimeSpan.FromMilliseconds(100),
            });
            await using var run = await Experiment.StartAsync(Options(client, "outage"));
            for (var i = 0; i < 100; i++)
                run.Log.Scalar("m", "v", i, i);
            await run.FlushAsync();
            await first.DisposeAsync();

            for (var i = 100; i < 5_000; i++)
                run.Log.Scalar("m", "v", i, i);
            var flushed = run.FlushAsync();
            await using var second = await SlipwayServer.StartAsync(ServerOptions(), logging => logging.AddFilter(_ => false));
            await flushed;
            await run.CompleteAsync();

            var series = (await client.Tasks.GetScalarsAsync(run.Id))["m"]["v"];
            Assert.Equal(Enumerable.Range(0, 5_000).Select(i => (double)i), series.Values);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task<byte[]> DownloadAsync(SlipwayClient client, string url)
    {
        await using var stream = await client.Files.OpenReadAsync(new Uri(url));
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private sealed class TrainingParameters
    {
        public double LearningRate { get; set; } = 0.001;
        public int Epochs { get; set; } = 10;
        public string Optimizer { get; set; } = "Adam";
    }

    private sealed record NetConfig(string[] Layers, int Width);
}
