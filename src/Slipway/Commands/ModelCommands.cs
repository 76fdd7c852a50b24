using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Commands;

/// <summary>`slipway model list|show|get|publish`: the model registry.</summary>
public static class ModelCommands
{
    public static Command Create(CliConsole console) => new("model", "List, inspect, download and publish registered models")
    {
        List(console), Show(console), Get(console), Publish(console),
    };

    private static Argument<string> IdArgument() => new("id") { Description = "The model id (as 'slipway model list' shows it)" };

    private static ClientCommand List(CliConsole console)
    {
        var project = new Option<string?>("--project") { Description = "Only models of this project (its full name)", HelpName = "name" };
        var task = new Option<string?>("--task") { Description = "Only models this task created", HelpName = "id" };
        var published = new Option<bool>("--published") { Description = "Only published models" };
        var name = ClientCommand.NameRegexOption("models");
        var limit = ClientCommand.LimitOption(50, "models");
        var command = new ClientCommand("list", "List models, newest first: id, name, framework, state, project, iteration, creation", console)
        {
            project, task, published, name, limit,
        };
        command.SetClientAction(async run =>
        {
            var projectId = run.Get(project) is { } projectName ? await run.RequireProjectIdAsync(projectName) : null;
            var pageSize = run.Get(limit);
            var models = await run.Client.Models.ListAsync(projectId, run.Get(name), run.Get(task), run.Get(published), pageSize, run.CancellationToken);
            var projects = await run.ProjectNamesAsync();
            if (run.Json)
            {
                run.WriteJson(new JsonArray(models.Select(m => (JsonNode)ModelJson(m, projects)).ToArray()));
                return ExitCodes.Ok;
            }
            if (models.Count == 0)
            {
                run.Note("No models match.");
                return ExitCodes.Ok;
            }
            var table = new Table("ID", "NAME", "FRAMEWORK", "STATE", "PROJECT", "ITER", "CREATED").AlignRight("ITER");
            foreach (var m in models)
                table.Add(m.Id, Output.Clip(m.Name, 40), m.Framework ?? "-", m.Ready ? "published" : "draft",
                    Output.Clip(ClientInvocation.ProjectName(projects, m.ProjectId), 30), m.Iteration?.ToString(CultureInfo.InvariantCulture) ?? "-", Output.Ago(m.Created, run.Now));
            table.Write(run.Out);
            if (models.Count == pageSize)
                run.Note($"(the first {models.Count}; --limit N shows more)");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Show(CliConsole console)
    {
        var id = IdArgument();
        var command = new ClientCommand("show", "Show a model: its fields, file, tags and metadata", console) { id };
        command.SetClientAction(async run =>
        {
            var model = await run.Client.Models.GetAsync(run.Get(id)!, run.CancellationToken);
            var projects = await run.ProjectNamesAsync();
            if (run.Json)
            {
                var json = ModelJson(model, projects);
                json["comment"] = Output.Text(model.Raw["comment"]);
                var metadata = new JsonObject();
                foreach (var (key, value) in model.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                    metadata[key] = value;
                json["metadata"] = metadata;
                run.WriteJson(json);
                return ExitCodes.Ok;
            }
            new Fields()
                .Add("id", model.Id)
                .Add("name", model.Name)
                .Add("state", model.Ready ? "published" : "draft")
                .Add("framework", model.Framework)
                .Add("project", model.ProjectId is null ? null : ClientInvocation.ProjectName(projects, model.ProjectId))
                .Add("task", model.TaskId)
                .Add("iteration", model.Iteration?.ToString(CultureInfo.InvariantCulture))
                .Add("tags", string.Join(", ", model.Tags))
                .Add("created", Output.When(model.Created, run.Now))
                .Add("file", model.Uri)
                .Add("comment", Output.Clip(Output.Text(model.Raw["comment"]), 200))
                .Write(run.Out);
            if (model.Metadata.Count > 0)
            {
                run.Out.WriteLine();
                run.Out.WriteLine($"Metadata ({model.Metadata.Count})");
                var metadata = new Fields();
                foreach (var (key, value) in model.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
                    metadata.Add(key, Output.Clip(value, 100));
                metadata.Write(run.Out, "  ");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Get(CliConsole console)
    {
        var id = IdArgument();
        var copy = new Option<string?>("--copy") { Description = "Download into this folder (keeping the file's name, replacing a file of that name) instead of the cache", HelpName = "dir" };
        var cache = new Option<string?>("--cache-dir") { Description = "The cache folder (default: SLIPWAY_CACHE_DIR, else ~/.slipway/cache); a model already there is not downloaded again", HelpName = "dir" };
        var command = new ClientCommand("get", "Download a model's file and print its local path (a progress bar on stderr when it is a terminal)", console) { id, copy, cache };
        command.SetClientAction(async run =>
        {
            var model = await run.Client.Models.GetAsync(run.Get(id)!, run.CancellationToken);
            if (string.IsNullOrEmpty(model.Uri) || !Uri.TryCreate(model.Uri, UriKind.Absolute, out var uri))
                throw CliException.NotFound($"model {model.Id} has no file");
            var fileName = Uri.UnescapeDataString(uri.Segments[^1]);
            long? total = run.Console.ErrorIsTerminal ? await run.Client.Files.GetLengthAsync(uri, run.CancellationToken) : null;
            string path;
            using (var bar = ProgressBar.Start(run.Console, fileName, total))
            {
                if (run.Get(copy) is { } folder)
                {
                    path = Path.GetFullPath(Path.Combine(folder, fileName));
                    await run.Client.Files.DownloadAsync(uri, path, bar, run.CancellationToken);
                }
                else
                {
                    var cacheFolder = run.Get(cache) is { } dir ? Path.Combine(dir, "models") : null;
                    path = await run.Client.Models.GetLocalCopyAsync(model.Id, cacheFolder, bar, run.CancellationToken);
                }
                bar?.Complete();
            }
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = model.Id, ["path"] = path, ["size"] = new FileInfo(path).Length, ["uri"] = model.Uri });
            else
                run.Out.WriteLine(path);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Publish(CliConsole console)
    {
        var id = IdArgument();
        var command = new ClientCommand("publish", "Publish a model (mark it ready; a published model's file cannot change)", console) { id };
        command.SetClientAction(async run =>
        {
            var modelId = run.Get(id)!;
            await run.Client.Models.PublishAsync(modelId, run.CancellationToken);
            var model = await run.Client.Models.GetAsync(modelId, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["id"] = model.Id, ["published"] = model.Ready });
            else
                run.Out.WriteLine($"Published {model.Id} ({model.Name}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static JsonObject ModelJson(ModelInfo m, IReadOnlyDictionary<string, string> projects) => new()
    {
        ["id"] = m.Id,
        ["name"] = m.Name,
        ["framework"] = m.Framework,
        ["published"] = m.Ready,
        ["project"] = m.ProjectId,
        ["project_name"] = m.ProjectId is not null && projects.TryGetValue(m.ProjectId, out var projectName) ? projectName : null,
        ["task"] = m.TaskId,
        ["tags"] = Output.Array(m.Tags),
        ["iteration"] = m.Iteration,
        ["created"] = Output.Time(m.Created),
        ["uri"] = m.Uri,
    };
}
