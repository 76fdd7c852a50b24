using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway project list|share`: the projects you can see, and who may read or change one of yours.</summary>
public static class ProjectCommands
{
    private static readonly string[] Levels = ["none", "read", "write", "owner"];

    public static Command Create(CliConsole console) => new("project", "List projects and share them with users")
    {
        List(console), Share(console),
    };

    private static ClientCommand List(CliConsole console)
    {
        var command = new ClientCommand("list", "List the projects you can see: name, id, tasks, who shares it", console);
        command.SetClientAction(async run =>
        {
            var projects = (await run.Client.CallAsync("projects.get_all_ex", new JsonObject { ["search_hidden"] = false }, run.CancellationToken))["projects"] as JsonArray ?? [];
            var rows = projects.OfType<JsonObject>().Where(p => p["hidden"]?.GetValue<bool>() != true)
                .OrderBy(p => Output.Text(p["name"]), StringComparer.Ordinal).ToList();
            if (run.Json)
            {
                run.WriteJson(new JsonArray(rows.Select(p => (JsonNode)new JsonObject
                {
                    ["id"] = Output.Text(p["id"]),
                    ["name"] = Output.Text(p["name"]),
                    ["user"] = Output.Text(p["user"]),
                    ["tasks"] = p["stats"]?["active"]?["total_tasks"]?.GetValue<long>() ?? 0,
                    ["permissions"] = p["permissions"]?.DeepClone(),
                }).ToArray()));
                return ExitCodes.Ok;
            }
            if (rows.Count == 0)
            {
                run.Note("No projects.");
                return ExitCodes.Ok;
            }
            var table = new Table("NAME", "ID", "TASKS", "SHARED WITH").AlignRight("TASKS");
            foreach (var p in rows)
            {
                var grants = p["permissions"] is JsonObject map ? string.Join(", ", map.Select(g => $"{g.Key}:{g.Value}")) : "every member (write)";
                table.Add(Output.Text(p["name"]), Output.Text(p["id"]),
                    (p["stats"]?["active"]?["total_tasks"]?.GetValue<long>() ?? 0).ToString(CultureInfo.InvariantCulture), grants.Length == 0 ? "-" : grants);
            }
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Share(CliConsole console)
    {
        var project = new Argument<string>("project") { Description = "The project's full name or id" };
        var user = new Option<string?>("--user") { Description = "The user's id or name", HelpName = "user" };
        var everyone = new Option<bool>("--everyone") { Description = "Every member of your tenant" };
        var level = new Option<string>("--level") { Description = "none (take the grant away), read, write or owner", DefaultValueFactory = _ => "read" };
        level.AcceptOnlyFromAmong(Levels);
        var command = new ClientCommand("share", "Give a user (or every member) read, write or owner access to a project you own", console)
        {
            project, user, everyone, level,
        };
        command.SetClientAction(async run =>
        {
            if (run.Get(everyone) == (run.Get(user) is not null))
                throw new CliException(ExitCodes.Usage, "give exactly one of --user or --everyone");
            var projectId = await ResolveProjectAsync(run, run.Get(project)!);
            var target = run.Get(everyone) ? "*" : await UserCommand.ResolveAsync(run, run.Get(user)!);
            var body = new JsonObject { ["project"] = projectId, ["user"] = target, ["level"] = run.Get(level) };
            await run.Client.CallAsync("projects.set_permissions", body, run.CancellationToken);
            if (run.Json)
                run.WriteJson(body);
            else
                run.Out.WriteLine($"{(target == "*" ? "every member" : run.Get(user))}: {run.Get(level)} on {run.Get(project)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<string> ResolveProjectAsync(ClientInvocation run, string nameOrId)
    {
        var byId = await run.Client.CallAsync("projects.get_all", new JsonObject { ["id"] = new JsonArray(nameOrId), ["only_fields"] = new JsonArray("id") }, run.CancellationToken);
        return (byId["projects"] as JsonArray)?.Count > 0 ? nameOrId : await run.RequireProjectIdAsync(nameOrId);
    }
}
