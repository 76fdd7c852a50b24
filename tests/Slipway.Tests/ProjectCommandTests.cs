using System.Text.Json.Nodes;
using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

public sealed class ProjectCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Share_grants_a_user_access_and_list_shows_it()
    {
        var projectId = await server.CreateProjectAsync();
        var project = (await server.Client.CallAsync("projects.get_by_id", new JsonObject { ["project"] = projectId }))["project"]!["name"]!.GetValue<string>();
        var member = CliServer.Unique("member");
        var user = (await server.RunAsync("user", "add", "--name", member, "--json")).Json()["user"]!.GetValue<string>();

        (await server.RunAsync("project", "share", project, "--user", member, "--level", "write")).Ok();
        var stored = (await server.Client.CallAsync("projects.get_by_id", new JsonObject { ["project"] = projectId }))["project"]!["permissions"]!;
        Assert.Equal("write", stored[user]!.GetValue<string>());

        (await server.RunAsync("project", "share", projectId, "--everyone", "--level", "read")).Ok();
        var listed = (await server.RunAsync("project", "list", "--json")).Json().AsArray().Single(p => p!["id"]!.GetValue<string>() == projectId)!;
        Assert.Equal("read", listed["permissions"]!["*"]!.GetValue<string>());
        var row = Assert.Single((await server.RunAsync("project", "list")).Ok().Out.Split('\n'), l => l.StartsWith(project + " ", StringComparison.Ordinal));
        Assert.Contains($"{user}:write", row, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Share_needs_exactly_one_of_user_and_everyone()
    {
        var projectId = await server.CreateProjectAsync();
        Assert.Equal(ExitCodes.Usage, (await server.RunAsync("project", "share", projectId)).Exit);
        Assert.Equal(ExitCodes.Usage, (await server.RunAsync("project", "share", projectId, "--everyone", "--user", "x")).Exit);
        Assert.Equal(ExitCodes.Usage, (await server.RunAsync("project", "share", projectId, "--everyone", "--level", "admin")).Exit);
    }
}
