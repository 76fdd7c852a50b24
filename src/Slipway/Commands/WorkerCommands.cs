using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>
/// `slipway worker list`: the agents the server has heard from lately, as <c>clearml-agent list</c> shows them, with
/// their machines' CPU, memory and GPUs over the last minute they reported.
/// </summary>
public static class WorkerCommands
{
    public static Command Create(CliConsole console) => new("worker", "List the workers (agents) serving queues")
    {
        List(console),
    };

    private static ClientCommand List(CliConsole console)
    {
        var command = new ClientCommand("list", "List workers by id: the queues they serve, the task they run, CPU, memory and GPU use, when they last reported", console);
        command.SetClientAction(async run =>
        {
            // workers.get_all answers only workers that reported within their timeout, with queue and task names filled in.
            var answer = await run.Client.CallAsync("workers.get_all", new JsonObject(), run.CancellationToken);
            var workers = (answer["workers"] as JsonArray ?? []).OfType<JsonObject>().Select(w => new
            {
                Id = Output.Text(w["id"]) ?? "",
                Queues = (w["queues"] as JsonArray ?? []).Select(q => Output.Text(q?["name"]) ?? Output.Text(q?["id"])).OfType<string>().ToList(),
                TaskId = Output.Text(w["task"]?["id"]),
                TaskName = Output.Text(w["task"]?["name"]),
                LastReport = ParseTime(Output.Text(w["last_activity_time"])),
                Registered = ParseTime(Output.Text(w["register_time"])),
                User = Output.Text(w["user"]?["name"]),
            }).ToList();
            var machines = workers.Count == 0 ? [] : await MachineLoadAsync(run, workers.Select(w => w.Id).ToList());
            if (run.Json)
            {
                run.WriteJson(new JsonArray(workers.Select(w => (JsonNode)new JsonObject
                {
                    ["id"] = w.Id,
                    ["queues"] = Output.Array(w.Queues),
                    ["task"] = w.TaskId,
                    ["task_name"] = w.TaskName,
                    ["last_report"] = Output.Time(w.LastReport),
                    ["registered"] = Output.Time(w.Registered),
                    ["user"] = w.User,
                    ["machine"] = machines.TryGetValue(w.Id, out var load) ? load.ToJson() : null,
                }).ToArray()));
                return ExitCodes.Ok;
            }
            if (workers.Count == 0)
            {
                run.Note("No workers (start one with 'slipway agent').");
                return ExitCodes.Ok;
            }
            var table = new Table("ID", "QUEUES", "TASK", "TASK NAME", "CPU", "MEMORY", "GPU", "LAST REPORT").AlignRight("CPU", "MEMORY");
            foreach (var w in workers)
            {
                var load = machines.GetValueOrDefault(w.Id);
                table.Add(w.Id, w.Queues.Count == 0 ? "-" : string.Join(",", w.Queues), w.TaskId ?? "-", Output.Clip(w.TaskName ?? "-", 40),
                    load?.CpuText ?? "-", load?.MemoryText ?? "-", load?.GpuText ?? "-", Output.Ago(w.LastReport, run.Now));
            }
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// Each worker's machine over the last minute it reported, from <c>workers.get_stats</c> (the reference server's
    /// <c>get_all</c> carries no machine statistics); workers without reports are left out.
    /// </summary>
    private static async Task<Dictionary<string, MachineLoad>> MachineLoadAsync(ClientInvocation run, List<string> workerIds)
    {
        const long Minute = 60;
        var now = run.Now.ToUnixTimeSeconds();
        var answer = await run.Client.CallAsync("workers.get_stats", new JsonObject
        {
            ["worker_ids"] = Output.Array(workerIds),
            ["from_date"] = now - 5 * Minute,
            ["to_date"] = now,
            ["interval"] = Minute,
            ["split_by_variant"] = true,
            ["items"] = new JsonArray(MachineLoad.Keys.Select(k => (JsonNode)new JsonObject { ["key"] = k, ["category"] = "avg" }).ToArray()),
        }, run.CancellationToken);
        var result = new Dictionary<string, MachineLoad>(StringComparer.Ordinal);
        foreach (var worker in (answer["workers"] as JsonArray ?? []).OfType<JsonObject>())
        {
            // Per metric, one latest value per variant (a GPU, a core): the last bucket that has one.
            var latest = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            foreach (var metric in (worker["metrics"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (Output.Text(metric["metric"]) is not { } key || metric["stats"]?[0]?["values"] is not JsonArray { Count: > 0 } values
                    || values[^1] is not JsonValue last || !last.TryGetValue(out double value))
                    continue;
                (latest.TryGetValue(key, out var list) ? list : latest[key] = []).Add(value);
            }
            if (Output.Text(worker["worker"]) is { } id && latest.Count > 0)
                result[id] = new MachineLoad(latest);
        }
        return result;
    }

    /// <summary>A machine's load, in the official agent's units (percent, MB).</summary>
    private sealed class MachineLoad(Dictionary<string, List<double>> latest)
    {
        public static readonly string[] Keys = ["cpu_usage", "memory_used", "memory_free", "gpu_usage", "gpu_memory_used", "gpu_memory_free"];

        private double? Average(string key) => latest.TryGetValue(key, out var v) && v.Count > 0 ? v.Average() : null;

        private IReadOnlyList<double> Each(string key) => latest.GetValueOrDefault(key) ?? [];

        private double? MemoryTotal => Average("memory_used") + Average("memory_free");

        public string? CpuText => Average("cpu_usage") is { } cpu ? $"{cpu:0}%" : null;

        public string? MemoryText => Average("memory_used") is { } used && MemoryTotal is { } total
            ? $"{used / 1024:0.0}/{total / 1024:0.0} GB"
            : null;

        public string? GpuText
        {
            get
            {
                var usage = Each("gpu_usage");
                if (usage.Count == 0)
                    return null;
                var memory = Average("gpu_memory_used") is { } used && Average("gpu_memory_free") is { } free ? $", {used / 1024:0.0}/{(used + free) / 1024:0.0} GB" : "";
                return $"{usage.Count}× {usage.Average():0}%{memory}";
            }
        }

        public JsonObject ToJson() => new()
        {
            ["cpu_percent"] = Average("cpu_usage"),
            ["memory_used_mb"] = Average("memory_used"),
            ["memory_total_mb"] = MemoryTotal,
            ["gpus"] = new JsonArray(Each("gpu_usage").Select((usage, i) => (JsonNode)new JsonObject
            {
                ["usage_percent"] = usage,
                ["memory_used_mb"] = Each("gpu_memory_used").ElementAtOrDefault(i),
                ["memory_total_mb"] = Each("gpu_memory_used").ElementAtOrDefault(i) + Each("gpu_memory_free").ElementAtOrDefault(i),
            }).ToArray()),
        };
    }

    private static DateTimeOffset? ParseTime(string? text) =>
        text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
