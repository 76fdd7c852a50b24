using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway worker list`: the agents the server has heard from lately, as <c>clearml-agent list</c> shows them.</summary>
public static class WorkerCommands
{
    public static Command Create(CliConsole console) => new("worker", "List the workers (agents) serving queues")
    {
        List(console),
    };

    private static ClientCommand List(CliConsole console)
    {
        var command = new ClientCommand("list", "List workers by id: the queues they serve, the task they run, when they last reported", console);
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
                }).ToArray()));
                return ExitCodes.Ok;
            }
            if (workers.Count == 0)
            {
                run.Note("No workers (start one with 'slipway agent').");
                return ExitCodes.Ok;
            }
            var table = new Table("ID", "QUEUES", "TASK", "TASK NAME", "LAST REPORT");
            foreach (var w in workers)
                table.Add(w.Id, w.Queues.Count == 0 ? "-" : string.Join(",", w.Queues), w.TaskId ?? "-", Output.Clip(w.TaskName ?? "-", 40), Output.Ago(w.LastReport, run.Now));
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static DateTimeOffset? ParseTime(string? text) =>
        text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
