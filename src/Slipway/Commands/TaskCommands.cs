using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Commands;

/// <summary>`slipway task list|show|log|create|clone|enqueue|abort|reset|publish|tag|archive|delete`: find, inspect, reproduce and tidy tasks.</summary>
public static class TaskCommands
{
    private static readonly string[] Statuses = ["created", "queued", "in_progress", "stopped", "completed", "failed", "published", "closed"];

    public static Command Create(CliConsole console) => new("task", "List, inspect and reproduce tasks (experiments): clone with changes, enqueue, abort, reset")
    {
        List(console), Show(console), Log(console), TaskCreateCommand.Create(console), Clone(console), Enqueue(console), Abort(console), Reset(console),
        Publish(console), Tag(console), Archive(console), Delete(console),
    };

    private static Argument<string> IdArgument() => new("id") { Description = "The task id (as 'slipway task list' shows it)" };

    private static Argument<string[]> IdsArgument() => new("id") { Description = "The task ids (as 'slipway task list' shows them)", Arity = ArgumentArity.OneOrMore };

    private static ClientCommand List(CliConsole console)
    {
        var project = new Option<string?>("--project") { Description = "Only tasks of this project (its full name, e.g. 'examples/mnist')", HelpName = "name" };
        var status = new Option<string[]>("--status") { Description = "Only tasks in this status; repeat for any of several", HelpName = "status" };
        status.AcceptOnlyFromAmong(Statuses);
        var tag = new Option<string[]>("--tag") { Description = "Only tasks with this tag; repeat for any of several; --tag=-T excludes T", HelpName = "tag" };
        var name = ClientCommand.NameRegexOption("tasks");
        var limit = ClientCommand.LimitOption(50, "tasks");
        var all = new Option<bool>("--all") { Description = "Include archived tasks" };
        var datasets = new Option<bool>("--datasets") { Description = "Include dataset versions (tasks too, left out as the web UI's table leaves them out)" };
        var command = new ClientCommand("list", "List tasks, most recently updated first: id, name, status, type, project, start, duration, last iteration", console)
        {
            project, status, tag, name, limit, all, datasets,
        };
        command.SetClientAction(async run =>
        {
            var projectName = run.Get(project);
            var filter = new TaskFilter
            {
                ProjectId = projectName is null ? null : await run.RequireProjectIdAsync(projectName),
                Statuses = run.Get(status) is { Length: > 0 } statuses ? statuses : null,
                Tags = run.Get(tag) is { Length: > 0 } tags ? tags : null,
                Name = run.Get(name),
                IncludeArchived = run.Get(all),
                SystemTags = ListedSystemTags(run.Get(all), run.Get(datasets)),
                PageSize = run.Get(limit),
            };
            var tasks = await run.Client.Tasks.ListAsync(filter, run.CancellationToken);
            var projects = await run.ProjectNamesAsync();
            if (run.Json)
            {
                run.WriteJson(new JsonArray(tasks.Select(t => (JsonNode)TaskJson(t, projects, run.Now)).ToArray()));
                return ExitCodes.Ok;
            }
            if (tasks.Count == 0)
            {
                run.Note("No tasks match.");
                return ExitCodes.Ok;
            }
            var withProject = projectName is null;
            string[] headers = withProject
                ? ["ID", "NAME", "STATUS", "TYPE", "PROJECT", "STARTED", "DURATION", "ITER"]
                : ["ID", "NAME", "STATUS", "TYPE", "STARTED", "DURATION", "ITER"];
            var table = new Table(headers).AlignRight("DURATION", "ITER");
            foreach (var t in tasks)
            {
                var status = t.SystemTags.Contains("archived") ? t.Status + " (archived)" : t.Status;
                List<string?> cells = [t.Id, Output.Clip(t.Name, 40), status, t.Type ?? "-"];
                if (withProject)
                    cells.Add(Output.Clip(ClientInvocation.ProjectName(projects, t.ProjectId), 30));
                cells.AddRange([Output.Ago(t.Started, run.Now), Output.Duration(DurationOf(t, run.Now)), t.LastIteration?.ToString(CultureInfo.InvariantCulture) ?? "-"]);
                table.Add([.. cells]);
            }
            table.Write(run.Out);
            if (tasks.Count == filter.PageSize)
                run.Note($"(the first {tasks.Count}; --limit N shows more)");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Show(CliConsole console)
    {
        var id = IdArgument();
        var command = new ClientCommand("show", "Show a task: its fields, code reference, parameters, configuration names, artifacts and models", console) { id };
        command.SetClientAction(async run =>
        {
            var task = await run.Client.Tasks.GetAsync(run.Get(id)!, run.CancellationToken);
            var projects = await run.ProjectNamesAsync();
            if (run.Json)
            {
                run.WriteJson(TaskDetailJson(task, projects, run.Now));
                return ExitCodes.Ok;
            }
            WriteTask(run.Out, task, projects, run.Now);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Log(CliConsole console)
    {
        var id = IdArgument();
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new output until the task finishes (checks every second)" };
        var command = new ClientCommand("log", "Print a task's console output, oldest first (--json: one JSON object per line: time, level, message)", console) { id, follow };
        command.SetClientAction(async run =>
        {
            var taskId = run.Get(id)!;
            var entries = run.Get(follow)
                ? run.Client.Tasks.FollowConsoleAsync(taskId, cancellationToken: run.CancellationToken)
                : run.Client.Tasks.GetConsoleAsync(taskId, run.CancellationToken);
            await foreach (var entry in entries)
            {
                if (run.Json)
                    Output.WriteJsonLine(run.Out, new JsonObject { ["time"] = Output.Time(entry.Time), ["level"] = entry.Level, ["message"] = entry.Message });
                else
                    foreach (var line in entry.Message.TrimEnd('\n').Split('\n'))
                        run.Out.WriteLine(ConsoleText.AsShown(line).TrimEnd('\r')); // progress bars as their last redraw
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Clone(CliConsole console)
    {
        var id = IdArgument();
        var name = new Option<string?>("--name") { Description = "The new task's name (default: 'Clone of' the source's name)", HelpName = "name" };
        var project = new Option<string?>("--project") { Description = "Put the new task in this project (full name; created if missing; default: the source's)", HelpName = "name" };
        var parameters = new Option<string[]>("--param") { Description = "Set a hyperparameter, e.g. --param Args/lr=0.01 (a name without a section goes to General); repeat for several", HelpName = "Section/name=value" };
        var branch = new Option<string?>("--branch") { Description = "Run this git branch", HelpName = "branch" };
        var commit = new Option<string?>("--commit") { Description = "Run this git commit", HelpName = "commit" };
        var repository = new Option<string?>("--repository") { Description = "Run code from this git repository", HelpName = "url" };
        var enqueue = new Option<string?>("--enqueue") { Description = "Also put the new task in this queue (name or id)", HelpName = "queue" };
        var command = new ClientCommand("clone", "Copy a task into a new draft with changes, and print the new task's id", console)
        {
            id, name, project, parameters, branch, commit, repository, enqueue,
        };
        command.SetClientAction(async run =>
        {
            var changes = ParseParameters(run.Get(parameters) ?? []);
            var source = await run.Client.Tasks.GetAsync(run.Get(id)!, run.CancellationToken);
            var queue = run.Get(enqueue) is { } queueName ? await run.RequireQueueAsync(queueName) : null;
            var projectId = run.Get(project) is { } projectName ? await run.Client.Projects.GetOrCreateAsync(projectName, cancellationToken: run.CancellationToken) : null;
            CodeReference? code = null;
            if (run.Get(branch) is not null || run.Get(commit) is not null || run.Get(repository) is not null)
                code = new CodeReference { Branch = run.Get(branch), Commit = run.Get(commit), Repository = run.Get(repository) };
            var clone = await run.Client.Tasks.CloneAsync(source.Id, new TaskCloneOptions
            {
                Name = run.Get(name),
                ProjectId = projectId,
                Parameters = changes.Count > 0 ? changes : null,
                Code = code,
            }, run.CancellationToken);
            if (queue is not null)
            {
                await run.Client.Tasks.EnqueueAsync(clone.Id, queue.Name, run.CancellationToken);
                clone = await run.Client.Tasks.GetAsync(clone.Id, run.CancellationToken);
            }
            if (run.Json)
            {
                run.WriteJson(new JsonObject
                {
                    ["id"] = clone.Id,
                    ["name"] = clone.Name,
                    ["status"] = clone.Status,
                    ["project"] = clone.ProjectId,
                    ["parent"] = source.Id,
                    ["queue"] = queue?.Name,
                });
                return ExitCodes.Ok;
            }
            run.Out.WriteLine(clone.Id);
            if (queue is not null)
                run.Note($"Enqueued in '{queue.Name}'.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Enqueue(CliConsole console)
    {
        var id = IdArgument();
        var queue = new Option<string>("--queue", "-q") { Description = "The queue (name or id)", DefaultValueFactory = _ => "default", HelpName = "queue" };
        var command = new ClientCommand("enqueue", "Put a draft task in a queue, for an agent to run", console) { id, queue };
        command.SetClientAction(async run =>
        {
            var target = await run.RequireQueueAsync(run.Get(queue)!);
            var taskId = run.Get(id)!;
            await run.Client.Tasks.EnqueueAsync(taskId, target.Name, run.CancellationToken);
            var task = await run.Client.Tasks.GetAsync(taskId, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = task.Id, ["status"] = task.Status, ["queue"] = target.Name, ["queue_id"] = target.Id });
            else
                run.Out.WriteLine($"Enqueued {task.Id} in '{target.Name}' ({task.Status}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Abort(CliConsole console)
    {
        var id = IdArgument();
        var force = new Option<bool>("--force") { Description = "Mark it stopped at once, even when an agent runs it (the agent is not asked to stop it first)" };
        var command = new ClientCommand("abort",
            "Stop a running or queued task: a task an agent runs is asked to stop (the agent ends it); any other is marked stopped", console) { id, force };
        command.SetClientAction(async run =>
        {
            var taskId = run.Get(id)!;
            await run.Client.Tasks.AbortAsync(taskId, "aborted from the command line", run.Get(force), run.CancellationToken);
            return await WriteStatusAsync(run, taskId, "Aborted");
        });
        return command;
    }

    private static ClientCommand Reset(CliConsole console)
    {
        var id = IdArgument();
        var force = new Option<bool>("--force") { Description = "Also reset a published task" };
        var command = new ClientCommand("reset", "Set a task back to draft, taking it out of any queue and deleting what it reported", console) { id, force };
        command.SetClientAction(async run =>
        {
            var taskId = run.Get(id)!;
            await run.Client.Tasks.ResetAsync(taskId, run.Get(force), run.CancellationToken);
            return await WriteStatusAsync(run, taskId, "Reset");
        });
        return command;
    }

    private static ClientCommand Publish(CliConsole console)
    {
        var id = IdArgument();
        var command = new ClientCommand("publish", "Publish a completed or stopped task (and its output models): it can no longer be changed or reset without --force", console) { id };
        command.SetClientAction(async run =>
        {
            var taskId = run.Get(id)!;
            await run.Client.Tasks.PublishAsync(taskId, run.CancellationToken);
            return await WriteStatusAsync(run, taskId, "Published");
        });
        return command;
    }

    private static ClientCommand Tag(CliConsole console)
    {
        var id = IdArgument();
        var add = new Option<string[]>("--add") { Description = "Tags to add", HelpName = "tag", AllowMultipleArgumentsPerToken = true };
        var remove = new Option<string[]>("--remove") { Description = "Tags to remove", HelpName = "tag", AllowMultipleArgumentsPerToken = true };
        var command = new ClientCommand("tag", "Add and remove a task's tags (in any status) and print the tags it has afterwards", console) { id, add, remove };
        command.SetClientAction(async run =>
        {
            var adding = run.Get(add) ?? [];
            var removing = run.Get(remove) ?? [];
            if (adding.Length == 0 && removing.Length == 0)
                throw CliException.Usage("give --add or --remove (or both)");
            if (adding.Intersect(removing, StringComparer.Ordinal).FirstOrDefault() is { } both)
                throw CliException.Usage($"'{both}' is both added and removed");
            var task = await run.Client.Tasks.GetAsync(run.Get(id)!, run.CancellationToken);
            // The existing order is kept and new tags go last, as the web UI shows them.
            var tags = task.Tags.Where(t => !removing.Contains(t, StringComparer.Ordinal)).ToList();
            tags.AddRange(adding.Where(t => !tags.Contains(t, StringComparer.Ordinal)).Distinct(StringComparer.Ordinal));
            await run.Client.Tasks.SetTagsAsync(task.Id, tags, run.CancellationToken);
            var after = await run.Client.Tasks.GetAsync(task.Id, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = after.Id, ["tags"] = Output.Array(after.Tags) });
            else
                run.Out.WriteLine(after.Tags.Count == 0 ? $"{after.Id} has no tags." : $"{after.Id} tags: {string.Join(", ", after.Tags)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Archive(CliConsole console)
    {
        var ids = IdsArgument();
        var restore = new Option<bool>("--restore") { Description = "Take the tasks out of the archive instead" };
        var command = new ClientCommand("archive",
            "Archive tasks (kept, hidden from default lists, taken out of queues), or with --restore bring them back", console) { ids, restore };
        command.SetClientAction(async run =>
        {
            var tasks = await RequireTasksAsync(run, run.Get(ids)!);
            var restoring = run.Get(restore);
            if (restoring)
                await run.Client.Tasks.UnarchiveAsync(tasks.Select(t => t.Id), run.CancellationToken);
            else
                await run.Client.Tasks.ArchiveAsync(tasks.Select(t => t.Id), run.CancellationToken);
            if (run.Json)
            {
                run.WriteJson(new JsonArray(tasks.Select(t => (JsonNode)new JsonObject { ["id"] = t.Id, ["name"] = t.Name, ["archived"] = !restoring }).ToArray()));
                return ExitCodes.Ok;
            }
            foreach (var t in tasks)
                run.Out.WriteLine($"{(restoring ? "Restored" : "Archived")} {t.Id} ({Output.Clip(t.Name, 60)}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Delete(CliConsole console)
    {
        var ids = IdsArgument();
        var force = new Option<bool>("--force") { Description = "Also delete running and published tasks" };
        var command = new ClientCommand("delete",
            "Delete tasks with what they reported (scalars, console, artifacts' stored files); running or published ones only with --force", console) { ids, force };
        command.SetClientAction(async run =>
        {
            var tasks = await RequireTasksAsync(run, run.Get(ids)!);
            var forced = run.Get(force);
            // Checked for all before any is deleted, so that a refusal leaves every task in place. The server refuses a
            // running task itself; a published one is refused here, as clearml-task and the web UI do.
            if (!forced && tasks.FirstOrDefault(t => t.Status is "in_progress" or "published") is { } kept)
                throw new CliException(ExitCodes.Failed,
                    $"{kept.Id} is {kept.Status}: nothing was deleted (--force deletes running and published tasks too)");
            foreach (var t in tasks)
                await run.Client.Tasks.DeleteAsync(t.Id, forced, run.CancellationToken);
            if (run.Json)
            {
                run.WriteJson(new JsonArray(tasks.Select(t => (JsonNode)new JsonObject { ["id"] = t.Id, ["name"] = t.Name, ["status"] = t.Status, ["deleted"] = true }).ToArray()));
                return ExitCodes.Ok;
            }
            foreach (var t in tasks)
                run.Out.WriteLine($"Deleted {t.Id} ({Output.Clip(t.Name, 60)}, {t.Status}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The tasks with these ids, each once, in the order given; fails on the first unknown id, before anything is changed.</summary>
    private static async Task<List<TaskInfo>> RequireTasksAsync(ClientInvocation run, IEnumerable<string> ids)
    {
        var tasks = new List<TaskInfo>();
        foreach (var taskId in ids.Distinct(StringComparer.Ordinal))
            tasks.Add(await run.Client.Tasks.GetAsync(taskId, run.CancellationToken));
        return tasks;
    }

    private static async Task<int> WriteStatusAsync(ClientInvocation run, string taskId, string verb)
    {
        var task = await run.Client.Tasks.GetAsync(taskId, run.CancellationToken);
        if (run.Json)
            run.WriteJson(new JsonObject { ["id"] = task.Id, ["status"] = task.Status });
        else
            run.Out.WriteLine($"{verb} {task.Id} ({task.Status}).");
        return ExitCodes.Ok;
    }

    /// <summary>"Section/name=value" pairs; the value may contain '=' and be empty.</summary>
    internal static Dictionary<string, string> ParseParameters(IEnumerable<string> pairs)
    {
        var parameters = new Dictionary<string, string>();
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? "" : pair[..equals].Trim();
            if (key.Length == 0 || key.StartsWith('/') || key.EndsWith('/'))
                throw CliException.Usage($"--param expects Section/name=value, not '{pair}'");
            parameters[key] = pair[(equals + 1)..];
        }
        return parameters;
    }

    /// <summary>The system-tag filter of a list: all of "not archived" and "not a dataset version", as asked; null for none.</summary>
    private static string[]? ListedSystemTags(bool archived, bool datasets)
    {
        string[] excluded = [.. archived ? [] : new[] { "-archived" }, .. datasets ? [] : new[] { "-dataset" }];
        return excluded.Length == 0 ? null : ["__$all", .. excluded];
    }

    private static TimeSpan? DurationOf(TaskInfo t, DateTimeOffset now)
    {
        if (t.Started is not { } started)
            return null;
        if (t.Completed is { } completed && completed >= started)
            return completed - started;
        if (t.Status == "in_progress")
            return now - started;
        return t.LastUpdate is { } updated && updated >= started ? updated - started : null;
    }

    private static JsonObject TaskJson(TaskInfo t, IReadOnlyDictionary<string, string> projects, DateTimeOffset now) => new()
    {
        ["id"] = t.Id,
        ["name"] = t.Name,
        ["status"] = t.Status,
        ["type"] = t.Type,
        ["project"] = t.ProjectId,
        ["project_name"] = t.ProjectId is not null && projects.TryGetValue(t.ProjectId, out var projectName) ? projectName : null,
        ["tags"] = Output.Array(t.Tags),
        ["archived"] = t.SystemTags.Contains("archived"),
        ["created"] = Output.Time(t.Created),
        ["started"] = Output.Time(t.Started),
        ["completed"] = Output.Time(t.Completed),
        ["last_update"] = Output.Time(t.LastUpdate),
        ["duration_sec"] = DurationOf(t, now) is { } d ? Math.Round(d.TotalSeconds, 3) : null,
        ["last_iteration"] = t.LastIteration,
    };

    private static JsonObject TaskDetailJson(TaskInfo t, IReadOnlyDictionary<string, string> projects, DateTimeOffset now)
    {
        var json = TaskJson(t, projects, now);
        json["status_reason"] = t.StatusReason;
        json["status_message"] = t.StatusMessage;
        json["parent"] = t.Parent;
        json["comment"] = t.Comment;
        json["system_tags"] = Output.Array(t.SystemTags);
        json["last_worker"] = t.LastWorker;
        json["code"] = new JsonObject
        {
            ["repository"] = t.Code.Repository,
            ["branch"] = t.Code.Branch,
            ["commit"] = t.Code.Commit,
            ["tag"] = t.Code.Tag,
            ["entry_point"] = t.Code.EntryPoint,
            ["working_dir"] = t.Code.WorkingDirectory,
            ["binary"] = t.Code.Binary,
            ["diff"] = t.Code.Diff,
        };
        var parameters = new JsonObject();
        foreach (var (key, value) in t.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
            parameters[key] = value;
        json["parameters"] = parameters;
        json["configuration"] = Output.Array(t.Configuration.Keys.Order(StringComparer.Ordinal));
        json["artifacts"] = new JsonArray(t.Artifacts.Values.Select(a => (JsonNode)new JsonObject
        {
            ["key"] = a.Key,
            ["type"] = a.Type,
            ["uri"] = a.Uri,
            ["size"] = a.Size,
            ["hash"] = a.Hash,
        }).ToArray());
        json["models"] = new JsonObject
        {
            ["input"] = ModelRefsJson(t.InputModels),
            ["output"] = ModelRefsJson(t.OutputModels),
        };
        return json;
    }

    private static JsonArray ModelRefsJson(IReadOnlyList<(string Name, string ModelId)> models) =>
        new(models.Select(m => (JsonNode)new JsonObject { ["name"] = m.Name, ["id"] = m.ModelId }).ToArray());

    private static void WriteTask(TextWriter w, TaskInfo t, IReadOnlyDictionary<string, string> projects, DateTimeOffset now)
    {
        var status = t.Status + (t.StatusMessage is { Length: > 0 } message ? $" ({message})" : "") + (t.SystemTags.Contains("archived") ? ", archived" : "");
        new Fields()
            .Add("id", t.Id)
            .Add("name", t.Name)
            .Add("status", status)
            .Add("reason", t.StatusReason)
            .Add("type", t.Type)
            .Add("project", t.ProjectId is null ? null : ClientInvocation.ProjectName(projects, t.ProjectId))
            .Add("tags", string.Join(", ", t.Tags))
            .Add("parent", t.Parent)
            .Add("created", Output.When(t.Created, now))
            .Add("started", t.Started is null ? null : Output.When(t.Started, now))
            .Add("completed", t.Completed is null ? null : Output.When(t.Completed, now))
            .Add("duration", DurationOf(t, now) is { } d ? Output.Duration(d) : null)
            .Add("last iteration", t.LastIteration?.ToString(CultureInfo.InvariantCulture))
            .Add("worker", t.LastWorker)
            .Add("comment", Output.Clip(t.Comment, 200))
            .Write(w);

        var code = new Fields()
            .Add("repository", t.Code.Repository)
            .Add("branch", t.Code.Branch)
            .Add("commit", t.Code.Commit)
            .Add("tag", t.Code.Tag)
            .Add("entry point", t.Code.EntryPoint)
            .Add("working dir", t.Code.WorkingDirectory)
            .Add("binary", t.Code.Binary)
            .Add("uncommitted", t.Code.Diff is { Length: > 0 } diff ? $"{diff.Split('\n').Length} lines of diff (--json shows them)" : null);
        if (!code.IsEmpty)
        {
            w.WriteLine();
            w.WriteLine("Code");
            code.Write(w, "  ");
        }

        if (t.Parameters.Count > 0)
        {
            w.WriteLine();
            w.WriteLine($"Parameters ({t.Parameters.Count})");
            var parameters = new Fields();
            foreach (var (key, value) in t.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
                parameters.Add(key, value.Length == 0 ? "\"\"" : Output.Clip(value, 100));
            parameters.Write(w, "  ");
        }
        if (t.Configuration.Count > 0)
        {
            w.WriteLine();
            w.WriteLine($"Configuration ({t.Configuration.Count})");
            foreach (var name in t.Configuration.Keys.Order(StringComparer.Ordinal))
                w.WriteLine($"  {name}");
        }
        if (t.Artifacts.Count > 0)
        {
            w.WriteLine();
            w.WriteLine($"Artifacts ({t.Artifacts.Count})");
            var artifacts = new Table("KEY", "TYPE", "SIZE", "URI").AlignRight("SIZE");
            foreach (var a in t.Artifacts.Values)
                artifacts.Add(a.Key, a.Type, a.Size is { } size ? Output.Bytes(size) : "-", a.Uri ?? "-");
            artifacts.Write(w, "  ");
        }
        if (t.InputModels.Count + t.OutputModels.Count > 0)
        {
            w.WriteLine();
            w.WriteLine("Models");
            var models = new Table("DIRECTION", "NAME", "ID");
            foreach (var (name, modelId) in t.InputModels)
                models.Add("input", name, modelId);
            foreach (var (name, modelId) in t.OutputModels)
                models.Add("output", name, modelId);
            models.Write(w, "  ");
        }
    }
}
