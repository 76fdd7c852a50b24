using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway user add`: creates a user and a key pair through the API, as an admin.</summary>
public static class UserCommand
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "The new user's name", Required = true };
        var admin = new Option<bool>("--admin") { Description = "Give the user the admin role" };
        var conf = new Option<string?>("--conf") { Description = "clearml.conf with the admin's credentials (default: CLEARML_CONFIG_FILE, else ~/.slipway/clearml.conf)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var add = new Command("add", "Add a user with an access/secret key pair") { name, admin, conf, json };
        add.SetAction(async (parse, ct) =>
        {
            try
            {
                using var api = await ApiConnection.OpenAsync(parse.GetValue(conf), ct);
                var user = (await api.CallAsync("users.create", new JsonObject { ["name"] = parse.GetValue(name), ["role"] = parse.GetValue(admin) ? "admin" : "user" }, ct))["id"]!.GetValue<string>();
                var keys = (await api.CallAsync("auth.create_credentials", new JsonObject { ["user"] = user }, ct))["credentials"]!;
                if (parse.GetValue(json))
                {
                    Console.WriteLine(new JsonObject { ["user"] = user, ["access_key"] = keys["access_key"]!.DeepClone(), ["secret_key"] = keys["secret_key"]!.DeepClone() }.ToJsonString());
                }
                else
                {
                    Console.WriteLine($"user        {user} ({parse.GetValue(name)})");
                    Console.WriteLine($"access_key  {keys["access_key"]}");
                    Console.WriteLine($"secret_key  {keys["secret_key"]}");
                }
                return 0;
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"slipway user add: {e.Message}");
                return 1;
            }
        });
        return new Command("user", "Manage users and their keys") { add };
    }
}
