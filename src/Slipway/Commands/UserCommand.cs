using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway user add`: creates a user and a key pair through the API, as an admin.</summary>
public static class UserCommand
{
    public static Command Create(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The new user's name", Required = true };
        var admin = new Option<bool>("--admin") { Description = "Give the user the admin role" };
        var add = new ClientCommand("add", "Add a user with an access/secret key pair (needs an admin's keys)", console) { name, admin };
        add.SetClientAction(async run =>
        {
            var userName = run.Get(name)!;
            var user = Output.Text((await run.Client.CallAsync("users.create", new JsonObject { ["name"] = userName, ["role"] = run.Get(admin) ? "admin" : "user" }, run.CancellationToken))["id"])
                       ?? throw new CliException(ExitCodes.Failed, "users.create answered without an id");
            var keys = (await run.Client.CallAsync("auth.create_credentials", new JsonObject { ["user"] = user }, run.CancellationToken))["credentials"];
            var accessKey = Output.Text(keys?["access_key"]);
            var secretKey = Output.Text(keys?["secret_key"]);
            if (run.Json)
            {
                run.WriteJson(new JsonObject { ["user"] = user, ["access_key"] = accessKey, ["secret_key"] = secretKey });
            }
            else
            {
                run.Out.WriteLine($"user        {user} ({userName})");
                run.Out.WriteLine($"access_key  {accessKey}");
                run.Out.WriteLine($"secret_key  {secretKey}");
            }
            return ExitCodes.Ok;
        });
        return new Command("user", "Manage users and their keys") { add };
    }
}
