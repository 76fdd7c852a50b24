using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway queue list|create|show`: the execution queues agents take tasks from.</summary>
public static class QueueCommands
{
    public static Command Create(CliConsole console) => new("queue", "List, create and inspect execution queues")
    {
        List(console), CreateQueue(console), Show(console),
    };

    private static ClientCommand List(CliConsole console)
    {
        var command = new ClientCommand("list", "List queues by name: name, id, number of waiting tasks", console);
        command.SetClientAction(async run =>
        {
            var queues = await run.Client.Queues.ListAsync(run.CancellationToken);
            if (run.Json)
            {
                run.WriteJson(new JsonArray(queues.Select(q => (JsonNode)new JsonObject
                {
                    ["id"] = q.Id,
                    ["name"] = q.Name,
                    ["tags"] = Output.Array(q.Tags),
                    ["created"] = Output.Time(q.Created),
                    ["entry_count"] = q.Entries.Count,
                }).ToArray()));
                return ExitCodes.Ok;
            }
            if (queues.Count == 0)
            {
                run.Note("No queues.");
                return ExitCodes.Ok;
            }
            var table = new Table("NAME", "ID", "ENTRIES").AlignRight("ENTRIES");
            foreach (var q in queues)
                table.Add(q.Name, q.Id, q.Entries.Count.ToString(CultureInfo.InvariantCulture));
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand CreateQueue(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The new queue's name" };
        var command = new ClientCommand("create", "Create a queue and print its id", console) { name };
        command.SetClientAction(async run =>
        {
            var queueName = run.Get(name)!;
            var id = await run.Client.Queues.CreateAsync(queueName, cancellationToken: run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = id, ["name"] = queueName });
            else
                run.Out.WriteLine(id);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Show(CliConsole console)
    {
        var queue = new Argument<string>("queue") { Description = "The queue's name or id" };
        var command = new ClientCommand("show", "Show a queue and the tasks waiting in it, next to run first", console) { queue };
        command.SetClientAction(async run =>
        {
            var found = await run.RequireQueueAsync(run.Get(queue)!);
            // queues.get_by_id has the time each entry was added.
            var detail = await run.Client.CallAsync("queues.get_by_id", new JsonObject { ["queue"] = found.Id }, run.CancellationToken);
            var entries = (detail["queue"]?["entries"] as JsonArray ?? [])
                .Select(e => (Task: Output.Text(e?["task"]), Added: Output.Text(e?["added"]) is { } added && DateTimeOffset.TryParse(added, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : (DateTimeOffset?)null))
                .Where(e => e.Task is not null)
                .ToList();
            var ids = entries.Select(e => e.Task!).ToList();
            var tasks = ids.Count == 0 ? [] : await run.Client.Tasks.ListAsync(new Client.TaskFilter
            {
                Ids = ids, IncludeArchived = true, IncludeHidden = true, PageSize = Math.Min(ids.Count, 10_000),
            }, run.CancellationToken);
            var byId = tasks.ToDictionary(t => t.Id);
            if (run.Json)
            {
                run.WriteJson(new JsonObject
                {
                    ["id"] = found.Id,
                    ["name"] = found.Name,
                    ["tags"] = Output.Array(found.Tags),
                    ["created"] = Output.Time(found.Created),
                    ["entries"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
                    {
                        ["task"] = e.Task,
                        ["name"] = byId.TryGetValue(e.Task!, out var t) ? t.Name : null,
                        ["status"] = byId.TryGetValue(e.Task!, out var s) ? s.Status : null,
                        ["added"] = Output.Time(e.Added),
                    }).ToArray()),
                });
                return ExitCodes.Ok;
            }
            new Fields()
                .Add("name", found.Name)
                .Add("id", found.Id)
                .Add("tags", string.Join(", ", found.Tags))
                .Add("created", Output.When(found.Created, run.Now))
                .Add("entries", entries.Count.ToString(CultureInfo.InvariantCulture))
                .Write(run.Out);
            if (entries.Count > 0)
            {
                run.Out.WriteLine();
                var table = new Table("#", "TASK", "NAME", "STATUS", "WAITING").AlignRight("#");
                var position = 0;
                foreach (var (taskId, added) in entries)
                {
                    byId.TryGetValue(taskId!, out var task);
                    table.Add((++position).ToString(CultureInfo.InvariantCulture), taskId, Output.Clip(task?.Name ?? "(deleted)", 40), task?.Status ?? "-",
                        added is { } t ? Output.Duration(run.Now - t) : "-");
                }
                table.Write(run.Out);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
