using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>
/// `slipway task create`: a task from a repository (or a local script) without writing code, like
/// clearml-task: code reference, Args hyperparameters, requirements, and optionally straight into a queue.
/// </summary>
public static class TaskCreateCommand
{
    public static ClientCommand Create(CliConsole console)
    {
        var project = new Option<string>("--project") { Description = "The task's project (full name; created if missing)", HelpName = "name", Required = true };
        var name = new Option<string?>("--name") { Description = "The task's name (default: the script's file name)", HelpName = "name" };
        var repo = new Option<string?>("--repo") { Description = "Git repository URL or path the agent clones; without it --script is a local file sent as the task's code", HelpName = "url" };
        var branch = new Option<string?>("--branch") { Description = "Branch to run (default: the repository's default branch)", HelpName = "branch" };
        var commit = new Option<string?>("--commit") { Description = "Commit to run", HelpName = "commit" };
        var script = new Option<string?>("--script", "--entry-point")
        {
            Description = "The entry point: a .py file or '-m module' (Python), a .csproj or .dll (.NET), a .sh file or a command line (shell)",
            HelpName = "path",
        };
        var workingDir = new Option<string?>("--working-dir") { Description = "Directory in the repository the entry point runs in (default: its root)", HelpName = "dir" };
        var binary = new Option<string?>("--binary") { Description = "The interpreter: python3, dotnet or bash (default: from the entry point)", HelpName = "name" };
        var args = new Option<string[]>("--args") { Description = "A script argument as an Args hyperparameter, e.g. --args lr=0.01; repeat for several", HelpName = "name=value" };
        var requirements = new Option<string?>("--requirements") { Description = "requirements.txt to install for a Python task (default: the repository's)", HelpName = "file" };
        var packages = new Option<string[]>("--packages") { Description = "A Python package to install, e.g. --packages numpy==2.1; repeat for several", HelpName = "spec" };
        var queue = new Option<string?>("--queue") { Description = "Enqueue the new task here (name or id); without it the task stays a draft", HelpName = "queue" };
        var command = new ClientCommand("create", "Create a task from a repository or a script, and optionally enqueue it; prints the new task's id", console)
        {
            project, name, repo, branch, commit, script, workingDir, binary, args, requirements, packages, queue,
        };
        command.SetClientAction(async run =>
        {
            var entry = run.Get(script) ?? throw CliException.Usage("--script (the entry point) is required");
            var parameters = ParseArgs(run.Get(args) ?? []);
            var scriptJson = new JsonObject { ["entry_point"] = entry };
            void Set(string field, string? value)
            {
                if (!string.IsNullOrEmpty(value))
                    scriptJson[field] = value;
            }
            if (run.Get(repo) is { } repository)
            {
                Set("repository", repository);
                Set("branch", run.Get(branch));
                Set("version_num", run.Get(commit));
                Set("working_dir", run.Get(workingDir));
            }
            else
            {
                if (run.Get(branch) is not null || run.Get(commit) is not null)
                    throw CliException.Usage("--branch and --commit need --repo");
                // Without a repository the script's text is the task's code (an existing file), or the entry point is a command line.
                if (File.Exists(entry))
                {
                    scriptJson["diff"] = await File.ReadAllTextAsync(entry, run.CancellationToken);
                    scriptJson["entry_point"] = Path.GetFileName(entry);
                }
            }
            Set("binary", run.Get(binary));
            var pip = new List<string>();
            if (run.Get(requirements) is { } file)
            {
                if (!File.Exists(file))
                    throw CliException.Usage($"--requirements: {file} does not exist");
                pip.Add((await File.ReadAllTextAsync(file, run.CancellationToken)).TrimEnd());
            }
            pip.AddRange(run.Get(packages) ?? []);
            if (pip.Count > 0)
                scriptJson["requirements"] = new JsonObject { ["pip"] = string.Join('\n', pip) + "\n" };

            var queueInfo = run.Get(queue) is { } queueName ? await run.RequireQueueAsync(queueName) : null;
            var projectId = await run.Client.Projects.GetOrCreateAsync(run.Get(project)!, cancellationToken: run.CancellationToken);
            var taskName = run.Get(name) ?? Path.GetFileName(entry.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? entry);
            var body = new JsonObject { ["name"] = taskName, ["project"] = projectId, ["type"] = "training", ["script"] = scriptJson };
            if (parameters.Count > 0)
            {
                var hyperparams = new JsonObject();
                foreach (var (key, value) in parameters)
                    hyperparams[key] = new JsonObject { ["section"] = "Args", ["name"] = key, ["value"] = value, ["type"] = "str" };
                body["hyperparams"] = new JsonObject { ["Args"] = hyperparams };
            }
            var created = await run.Client.CallAsync("tasks.create", body, run.CancellationToken);
            var id = created["id"]?.GetValue<string>() ?? throw new CliException(ExitCodes.Failed, "tasks.create: the answer has no id");
            if (queueInfo is not null)
                await run.Client.CallAsync("tasks.enqueue", new JsonObject { ["task"] = id, ["queue"] = queueInfo.Id }, run.CancellationToken);
            if (run.Json)
            {
                run.WriteJson(new JsonObject { ["id"] = id, ["name"] = taskName, ["project"] = run.Get(project), ["queue"] = queueInfo?.Name });
                return ExitCodes.Ok;
            }
            run.Out.WriteLine(id);
            run.Note(queueInfo is null
                ? $"Created task '{taskName}' in {run.Get(project)} (a draft; 'slipway task enqueue {id} QUEUE' runs it)"
                : $"Created task '{taskName}' in {run.Get(project)} and put it in queue {queueInfo.Name}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Dictionary<string, string> ParseArgs(IEnumerable<string> pairs)
    {
        var parsed = new Dictionary<string, string>();
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
                throw CliException.Usage($"--args '{pair}' is not name=value");
            parsed[pair[..equals].Trim()] = pair[(equals + 1)..];
        }
        return parsed;
    }
}
