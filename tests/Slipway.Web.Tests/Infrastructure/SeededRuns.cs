using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Client;
using Slipway.Client.Tracking;

namespace Slipway.Web.Tests.Infrastructure;

/// <summary>
/// The runs the browser tests look at, made the way a user makes them: two finished training runs in "vision/resnet"
/// (scalars, console, a Plotly figure, a table, debug images, artifacts, an output model, hyperparameters, a
/// configuration, code state with a diff) that differ in the learning rate, and one running task in "vision".
/// </summary>
public sealed record SeededRuns(string ProjectId, string Baseline, string Tuned, string Running, string ModelId)
{
    public const string Project = "vision/resnet";
    public const string Diff = "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1,3 +1,3 @@\n import torch\n-LR = 0.1\n+LR = 0.01\n print(LR)\n";

    public static async Task<SeededRuns> CreateAsync(SlipwayClient client)
    {
        var baseline = await RunAsync(client, "resnet baseline", 0.01, 0.8, withModel: true);
        var tuned = await RunAsync(client, "resnet tuned lr", 0.05, 0.9, withModel: false);
        var project = (await client.CallAsync("projects.get_all", new JsonObject { ["name"] = "^vision/resnet$" }))["projects"]![0]!["id"]!.GetValue<string>();
        var parent = (await client.CallAsync("projects.get_all", new JsonObject { ["name"] = "^vision$" }))["projects"]![0]!["id"]!.GetValue<string>();
        var running = (await client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = "long sweep", ["type"] = "training", ["project"] = parent,
        }))["id"]!.GetValue<string>();
        await client.CallAsync("tasks.started", new JsonObject { ["task"] = running });
        var models = await client.CallAsync("models.get_all", new JsonObject { ["task"] = new JsonArray(baseline) });
        return new SeededRuns(project, baseline, tuned, running, models["models"]![0]!["id"]!.GetValue<string>());
    }

    private static async Task<string> RunAsync(SlipwayClient client, string name, double lr, double finalAccuracy, bool withModel)
    {
        await using var run = await Experiment.StartAsync(new ExperimentOptions
        {
            Project = Project, Name = name, Client = client, Tags = ["resnet"],
            CaptureConsole = false, CaptureGit = false, CaptureArguments = false, MonitorInterval = null, HandleProcessExit = false,
            FlushInterval = TimeSpan.FromMilliseconds(100),
        });
        await run.ConnectAsync(new Dictionary<string, object?> { ["lr"] = lr, ["epochs"] = 50, ["batch_size"] = 32 });
        await run.ConnectConfigurationAsync("model", new { layers = 50, dropout = 0.1, optimizer = "sgd" });
        for (var i = 0; i < 50; i++)
        {
            run.Log.Scalar("loss", "train", 2.0 * Math.Exp(-lr * 4 * i) + 0.05, i);
            run.Log.Scalar("loss", "validation", 2.1 * Math.Exp(-lr * 3.5 * i) + 0.08, i);
            run.Log.Scalar("accuracy", "validation", finalAccuracy * (1 - Math.Exp(-i / 8.0)), i);
            if (i % 10 == 0)
                run.Log.Text($"epoch {i}: loss={2.0 * Math.Exp(-lr * 4 * i) + 0.05:0.0000}");
        }
        run.Log.Text("training finished");
        run.Log.SingleValue("test accuracy", finalAccuracy);
        run.Log.Plot("roc", "test", new JsonObject
        {
            ["data"] = new JsonArray(new JsonObject
            {
                ["type"] = "scatter", ["mode"] = "lines", ["name"] = "roc",
                ["x"] = new JsonArray(0, 0.1, 0.3, 1), ["y"] = new JsonArray(0, 0.6, 0.9, 1),
            }),
            ["layout"] = new JsonObject { ["title"] = new JsonObject { ["text"] = "ROC curve" } },
        });
        run.Log.Table("confusion", "test", ["", "cat", "dog"], [["cat", 40, 10], ["dog", 5, 45]]);
        for (var i = 0; i < 3; i++)
            await run.Log.ImageAsync("samples", "input", Png(16, 16, (byte)(60 * i)), i * 10);
        var folder = Directory.CreateTempSubdirectory("slipway-web-seed-");
        try
        {
            var predictions = Path.Combine(folder.FullName, "predictions.csv");
            await File.WriteAllTextAsync(predictions, "id,label\n1,cat\n2,dog\n");
            await run.UploadArtifactAsync("predictions", predictions);
            await run.UploadObjectArtifactAsync("summary", new { best_accuracy = finalAccuracy });
            if (withModel)
            {
                var model = Path.Combine(folder.FullName, "model.onnx");
                await File.WriteAllBytesAsync(model, Encoding.ASCII.GetBytes("not really onnx"));
                await run.RegisterOutputModelAsync(model, name: "resnet50", framework: "ONNX");
            }
            await client.CallAsync("tasks.edit", new JsonObject
            {
                ["task"] = run.Id, ["force"] = true,
                ["script"] = new JsonObject
                {
                    ["repository"] = "https://example.invalid/team/vision.git", ["branch"] = "main", ["version_num"] = "4f2c9e1d",
                    ["entry_point"] = "train.py", ["working_dir"] = ".", ["diff"] = Diff,
                    ["requirements"] = new JsonObject { ["pip"] = "torch==2.4.0\nnumpy\n" },
                },
            });
            await run.FlushAsync();
            await run.CompleteAsync();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
        return run.Id;
    }

    /// <summary>A grey-level PNG, written by hand so the tests need no imaging library.</summary>
    public static byte[] Png(int width, int height, byte shade)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; colour type 0 (grey)
        Chunk(png, "IHDR", header);
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
        {
            for (var y = 0; y < height; y++)
            {
                z.WriteByte(0);
                for (var x = 0; x < width; x++)
                    z.WriteByte((byte)(shade + (x + y) * 3));
            }
        }
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        png.Write(word);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
