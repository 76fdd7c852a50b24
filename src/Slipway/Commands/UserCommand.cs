using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway user list|add|update|delete` and `slipway audit`: users, their roles and the security record, as an admin.</summary>
public static class UserCommand
{
    private static readonly string[] Roles = ["admin", "member", "viewer", "customer"];

    public static Command Create(CliConsole console) => new("user", "Manage users, their roles and keys (needs an admin's keys)")
    {
        List(console), Add(console), Update(console), Delete(console),
    };

    private static ClientCommand List(CliConsole console)
    {
        var command = new ClientCommand("list", "List users: name, id, role, whether they may sign in", console);
        command.SetClientAction(async run =>
        {
            var users = (await run.Client.CallAsync("users.get_all", new JsonObject(), run.CancellationToken))["users"] as JsonArray ?? [];
            if (run.Json)
            {
                run.WriteJson(new JsonArray(users.Select(u => (JsonNode)new JsonObject
                {
                    ["id"] = Output.Text(u?["id"]),
                    ["name"] = Output.Text(u?["name"]),
                    ["role"] = Output.Text(u?["role"]),
                    ["disabled"] = u?["disabled"]?.GetValue<bool>() ?? false,
                    ["created"] = Output.Text(u?["created"]),
                }).ToArray()));
                return ExitCodes.Ok;
            }
            var table = new Table("NAME", "ID", "ROLE", "STATUS");
            foreach (var u in users)
                table.Add(Output.Text(u?["name"]), Output.Text(u?["id"]), Output.Text(u?["role"]), u?["disabled"]?.GetValue<bool>() == true ? "disabled" : "active");
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Add(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The new user's name", Required = true };
        var role = RoleOption("The new user's role", "member");
        var admin = new Option<bool>("--admin") { Description = "Same as --role admin" };
        var tenant = new Option<string?>("--tenant") { Description = "Put the user in this tenant (made if new; admins of the first tenant only)", HelpName = "name" };
        var add = new ClientCommand("add", "Add a user with an access/secret key pair", console) { name, role, admin, tenant };
        add.SetClientAction(async run =>
        {
            var userName = run.Get(name)!;
            var given = run.Get(admin) ? "admin" : run.Get(role)!;
            var create = new JsonObject { ["name"] = userName, ["role"] = given };
            if (run.Get(tenant) is { Length: > 0 } company)
                create["company"] = company;
            var user = Output.Text((await run.Client.CallAsync("users.create", create, run.CancellationToken))["id"])
                       ?? throw new CliException(ExitCodes.Failed, "users.create answered without an id");
            var keys = (await run.Client.CallAsync("auth.create_credentials", new JsonObject { ["user"] = user }, run.CancellationToken))["credentials"];
            var accessKey = Output.Text(keys?["access_key"]);
            var secretKey = Output.Text(keys?["secret_key"]);
            if (run.Json)
            {
                run.WriteJson(new JsonObject { ["user"] = user, ["role"] = given, ["access_key"] = accessKey, ["secret_key"] = secretKey });
            }
            else
            {
                run.Out.WriteLine($"user        {user} ({userName}, {given})");
                run.Out.WriteLine($"access_key  {accessKey}");
                run.Out.WriteLine($"secret_key  {secretKey}");
            }
            return ExitCodes.Ok;
        });
        return add;
    }

    private static ClientCommand Update(CliConsole console)
    {
        var user = new Argument<string>("user") { Description = "The user's id or name" };
        var role = RoleOption("Give the user this role", null);
        var disable = new Option<bool>("--disable") { Description = "Stop the user signing in; their tokens stop working at once" };
        var enable = new Option<bool>("--enable") { Description = "Let a disabled user sign in again" };
        var command = new ClientCommand("update", "Change a user's role, or disable or enable them", console) { user, role, disable, enable };
        command.SetClientAction(async run =>
        {
            if (run.Get(disable) && run.Get(enable))
                throw new CliException(ExitCodes.Usage, "--disable and --enable cannot be used together");
            var body = new JsonObject { ["user"] = await ResolveAsync(run, run.Get(user)!) };
            if (run.Get(role) is { } r)
                body["role"] = r;
            if (run.Get(disable) || run.Get(enable))
                body["disabled"] = run.Get(disable);
            if (body.Count == 1)
                throw new CliException(ExitCodes.Usage, "say what to change: --role, --disable or --enable");
            await run.Client.CallAsync("users.update", body, run.CancellationToken);
            if (run.Json)
                run.WriteJson(body);
            else
                run.Out.WriteLine($"updated {body["user"]}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static ClientCommand Delete(CliConsole console)
    {
        var user = new Argument<string>("user") { Description = "The user's id or name" };
        var command = new ClientCommand("delete", "Delete a user and revoke all their keys (what they made stays)", console) { user };
        command.SetClientAction(async run =>
        {
            var id = await ResolveAsync(run, run.Get(user)!);
            await run.Client.CallAsync("users.delete", new JsonObject { ["user"] = id }, run.CancellationToken);
            if (run.Json)
                run.WriteJson(new JsonObject { ["deleted"] = id });
            else
                run.Out.WriteLine($"deleted {id}");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static ClientCommand Audit(CliConsole console)
    {
        var action = new Option<string[]>("--action") { Description = "Only these actions (login, login_failed, credentials_created, user_updated, tasks.delete, …)" };
        var limit = new Option<int>("--limit") { Description = "At most this many records, newest first", DefaultValueFactory = _ => 50 };
        var command = new ClientCommand("audit", "The security record: sign-ins, keys, user changes and deletions, newest first (admins only)", console)
        {
            action, limit,
        };
        command.SetClientAction(async run =>
        {
            var body = new JsonObject { ["page_size"] = Math.Clamp(run.Get(limit), 1, 500) };
            if (run.Get(action) is { Length: > 0 } actions)
                body["action"] = Output.Array(actions);
            var events = (await run.Client.CallAsync("audit.get_all", body, run.CancellationToken))["events"] as JsonArray ?? [];
            if (run.Json)
            {
                run.WriteJson(events.DeepClone());
                return ExitCodes.Ok;
            }
            var table = new Table("TIME", "ACTION", "BY", "ADDRESS", "DETAILS");
            foreach (var e in events)
                table.Add(Output.Text(e?["time"]), Output.Text(e?["action"]), Output.Text(e?["user_name"]) ?? "-", Output.Text(e?["address"]) ?? "", e?["details"]?.ToJsonString());
            table.Write(run.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Option<string> RoleOption(string description, string? fallback)
    {
        var option = new Option<string>("--role") { Description = $"{description}: {string.Join(", ", Roles)}" };
        if (fallback is not null)
            option.DefaultValueFactory = _ => fallback;
        option.AcceptOnlyFromAmong(Roles);
        return option;
    }

    /// <summary>A user named by id or by name (names are unique in practice; an ambiguous one is refused).</summary>
    public static async Task<string> ResolveAsync(ClientInvocation run, string user)
    {
        var users = (await run.Client.CallAsync("users.get_all", new JsonObject(), run.CancellationToken))["users"] as JsonArray ?? [];
        if (users.FirstOrDefault(u => Output.Text(u?["id"]) == user) is not null)
            return user;
        var named = users.Where(u => Output.Text(u?["name"]) == user).ToList();
        return named.Count switch
        {
            1 => Output.Text(named[0]!["id"])!,
            0 => throw new CliException(ExitCodes.Failed, $"no user with id or name '{user}'"),
            _ => throw new CliException(ExitCodes.Failed, $"{named.Count} users are named '{user}'; give the id"),
        };
    }
}
