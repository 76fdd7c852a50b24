using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

public sealed class UserCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Add_list_update_and_delete_a_user_and_the_audit_record_shows_it()
    {
        var name = CliServer.Unique("viewer");
        var added = (await server.RunAsync("user", "add", "--name", name, "--role", "viewer", "--json")).Json();
        var id = added["user"]!.GetValue<string>();
        Assert.Equal("viewer", added["role"]!.GetValue<string>());
        Assert.NotEmpty(added["secret_key"]!.GetValue<string>());

        var row = Assert.Single((await server.RunAsync("user", "list")).Ok().Out.Split('\n'), l => l.StartsWith(name + " ", StringComparison.Ordinal));
        Assert.Equal([name, id, "viewer", "active"], row.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        (await server.RunAsync("user", "update", name, "--role", "member", "--disable")).Ok();
        var listed = (await server.RunAsync("user", "list", "--json")).Json().AsArray().Single(u => u!["id"]!.GetValue<string>() == id)!;
        Assert.Equal("member", listed["role"]!.GetValue<string>());
        Assert.True(listed["disabled"]!.GetValue<bool>());

        (await server.RunAsync("user", "delete", id)).Ok();
        Assert.DoesNotContain((await server.RunAsync("user", "list", "--json")).Json().AsArray(), u => u!["id"]!.GetValue<string>() == id);

        var audit = (await server.RunAsync("audit", "--action", "user_deleted", "--json")).Json().AsArray();
        Assert.Contains(audit, e => e!["details"]!["target"]!.GetValue<string>() == id);
        Assert.Contains("user_deleted", (await server.RunAsync("audit", "--limit", "5")).Ok().Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_roles_and_empty_updates_are_usage_errors()
    {
        Assert.Equal(ExitCodes.Usage, (await server.RunAsync("user", "add", "--name", "x", "--role", "superuser")).Exit);
        Assert.Equal(ExitCodes.Usage, (await server.RunAsync("user", "update", "admin")).Exit);
        Assert.Equal(ExitCodes.Failed, (await server.RunAsync("user", "delete", "no-such-user")).Exit);
    }
}
