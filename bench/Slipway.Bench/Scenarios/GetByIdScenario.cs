using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Storage;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// tasks.get_by_id latency for one sequential client over loopback, on a task with realistic content
/// (20 hyperparameters, a configuration, last_metrics for 10 series), beside debug.ping on the same server:
/// the HTTP + envelope cost with no store access. A store-only figure (IDocumentStore.GetAsync) splits the rest.
/// </summary>
public static class GetByIdScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var warmup = ctx.Quick ? 500 : 2_000;
        var calls = ctx.Quick ? 2_000 : 20_000;
        foreach (var engine in ctx.EnginesFor("get_by_id"))
        {
            var engineName = BenchContext.Name(engine);
            await using var server = await BenchServer.StartAsync(engine, ctx.Postgres);
            using var client = await server.LoginAsync(maxConnections: 1);
            var task = await CreateRealisticTaskAsync(client);
            var shown = await client.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = task });
            var size = Encoding.UTF8.GetByteCount(shown.ToJsonString());
            var lastMetrics = shown["task"]!["last_metrics"]!.AsObject().Sum(m => m.Value!.AsObject().Count);
            Console.WriteLine($"-- {engineName}: task document {Fmt.N(size)} bytes, {lastMetrics} last_metrics series; {warmup} warm-up + {calls} calls each");

            var sink = new byte[64 * 1024];
            var pingBody = "{}"u8.ToArray();
            var getBody = Encoding.UTF8.GetBytes(new JsonObject { ["task"] = task }.ToJsonString());
            // Alternate blocks of each so that drift (GC, tiering, page cache) hits both alike.
            var ping = new Latencies(calls);
            var get = new Latencies(calls);
            for (var i = 0; i < warmup; i++)
            {
                await client.TimedPostAsync("debug.ping", pingBody, sink);
                await client.TimedPostAsync("tasks.get_by_id", getBody, sink);
            }
            const int block = 1_000;
            var cpu = new CpuSampler();
            for (var done = 0; done < calls; done += block)
            {
                for (var i = 0; i < block; i++)
                    ping.Add(await client.TimedPostAsync("debug.ping", pingBody, sink));
                for (var i = 0; i < block; i++)
                    get.Add(await client.TimedPostAsync("tasks.get_by_id", getBody, sink));
            }

            var cpuUse = CpuSampler.Describe(cpu.Stop()) + "; " + cpu.Gc();
            // The store read alone (no HTTP, no JSON response).
            var docs = server.Server.Stores.Docs;
            var store = new Latencies(calls);
            for (var i = 0; i < warmup; i++)
                await docs.GetAsync(Collection.Tasks, task);
            for (var i = 0; i < calls; i++)
            {
                var start = Stopwatch.GetTimestamp();
                _ = await docs.GetAsync(Collection.Tasks, task);
                store.Add(Stopwatch.GetTimestamp() - start);
            }

            ctx.Results.Add(new Row("get_by_id", engineName, $"tasks.get_by_id p50 ({Fmt.N(size)}-byte task, {Fmt.N(calls)} calls)",
                Fmt.Ms(get.P50), Fmt.Ms(ping.P50) + " (debug.ping)", Fmt.Ratio(get.P50 / ping.P50), "-", null));
            ctx.Results.Add(new Row("get_by_id", engineName, "tasks.get_by_id p99",
                Fmt.Ms(get.P99), Fmt.Ms(ping.P99) + " (debug.ping)", Fmt.Ratio(get.P99 / ping.P99), "p99 < 2 ms", get.P99 < 2.0,
                $"max {Fmt.Ms(get.Max)}, debug.ping max {Fmt.Ms(ping.Max)}; {cpuUse}"));
            ctx.Results.Add(new Row("get_by_id", engineName, "diagnostic: store read only (IDocumentStore.GetAsync) p50 / p99",
                $"{Fmt.Ms(store.P50)} / {Fmt.Ms(store.P99)}", "-", "-", "-", null));
        }
    }

    /// <summary>A task as the SDK leaves it: script, 20 hyperparameters in two sections, a configuration, running, with scalars reported.</summary>
    public static async Task<string> CreateRealisticTaskAsync(ApiClient client)
    {
        var project = (await client.CallAsync("projects.create", new JsonObject { ["name"] = "get-by-id-bench-" + Guid.NewGuid().ToString("N")[..6] }))["id"]!.GetValue<string>();
        var hyperparams = new JsonObject();
        var args = new JsonObject();
        var names = new[] { "lr", "batch_size", "epochs", "momentum", "weight_decay", "optimizer", "scheduler", "warmup_steps", "dropout",
            "hidden_size", "num_layers", "num_heads", "seed", "dataset", "max_seq_len" };
        for (var i = 0; i < names.Length; i++)
        {
            args[names[i]] = new JsonObject
            {
                ["section"] = "Args", ["name"] = names[i], ["value"] = (i * 0.37).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
                ["type"] = i % 3 == 0 ? "float" : "int", ["description"] = $"the {names[i]} argument",
            };
        }
        hyperparams["Args"] = args;
        var general = new JsonObject();
        foreach (var name in new[] { "data_root", "output_dir", "fp16", "gradient_accumulation", "log_every" })
            general[name] = new JsonObject { ["section"] = "General", ["name"] = name, ["value"] = $"value of {name}", ["type"] = "str", ["description"] = "" };
        hyperparams["General"] = general;
        var yaml = new StringBuilder();
        for (var i = 0; i < 40; i++)
            yaml.Append(System.Globalization.CultureInfo.InvariantCulture, $"model.layer_{i}:\n  size: {128 << (i % 4)}\n  activation: gelu\n");
        var create = new JsonObject
        {
            ["name"] = "resnet50 fine-tune",
            ["type"] = "training",
            ["project"] = project,
            ["tags"] = new JsonArray("baseline", "resnet"),
            ["comment"] = "Auto-generated at 2025-01-01 by bench",
            ["script"] = new JsonObject
            {
                ["repository"] = "https://github.com/example/vision.git", ["branch"] = "main", ["version_num"] = "3f2c9a1b7d4e5f60718293a4b5c6d7e8f9012345",
                ["entry_point"] = "train.py", ["working_dir"] = ".", ["binary"] = "python3.11",
                ["requirements"] = new JsonObject { ["pip"] = "torch==2.4.0\ntorchvision==0.19.0\nnumpy==1.26.4\nclearml==1.16.4\n" },
            },
            ["hyperparams"] = hyperparams,
            ["configuration"] = new JsonObject
            {
                ["OmegaConf"] = new JsonObject { ["name"] = "OmegaConf", ["value"] = yaml.ToString(), ["type"] = "OmegaConf", ["description"] = "full config" },
            },
            ["container"] = new JsonObject { ["image"] = "nvcr.io/nvidia/pytorch:24.05-py3", ["arguments"] = "", ["setup_shell_script"] = "" },
        };
        var task = (await client.CallAsync("tasks.create", create))["id"]!.GetValue<string>();
        await client.CallAsync("tasks.started", new JsonObject { ["task"] = task });
        var lines = new StringBuilder();
        var ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var metric in new[] { "loss", "accuracy", "lr", "grad_norm", "throughput" })
        {
            foreach (var variant in new[] { "train", "validation" })
            {
                for (var iter = 0; iter < 100; iter++)
                {
                    lines.Append(System.Globalization.CultureInfo.InvariantCulture,
                        $$"""{"type":"training_stats_scalar","task":"{{task}}","iter":{{iter}},"metric":"{{metric}}","variant":"{{variant}}","value":{{1.0 / (iter + 1):R}},"timestamp":{{ts + iter}}}""");
                    lines.Append('\n');
                }
            }
        }
        await client.PostLinesAsync("events.add_batch", Encoding.UTF8.GetBytes(lines.ToString()));
        return task;
    }
}
