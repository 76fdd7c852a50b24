using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>Saved views of the experiments tables: per project (or All experiments), shared in the tenant, replaced by name.</summary>
public abstract class ViewsTests(string engine) : ServerTests(engine)
{
    private static List<string> Names(JsonObject data) => data["views"]!.AsArray().Select(v => v!["name"]!.GetValue<string>()).ToList();

    [Fact]
    public async Task Views_are_saved_per_table_replaced_by_name_and_shared_with_who_may_read_the_project()
    {
        var project = await CreateProjectAsync("vision");
        var other = await CreateProjectAsync("audio");
        var saved = await Api.OkAsync("views.save", new JsonObject { ["project"] = project, ["name"] = "best lr", ["view"] = "sort=-hyperparams.General.lr.value" });
        await Api.OkAsync("views.save", new JsonObject { ["project"] = project, ["name"] = "accuracy", ["view"] = "sort=-started" });
        await Api.OkAsync("views.save", new JsonObject { ["name"] = "recent", ["view"] = "sort=-last_update" });
        var replaced = await Api.OkAsync("views.save", new JsonObject { ["project"] = project, ["name"] = "best lr", ["view"] = "sort=hyperparams.General.lr.value&cols=x" });
        Assert.Equal(saved["id"]!.GetValue<string>(), replaced["id"]!.GetValue<string>());

        var views = await Api.OkAsync("views.get_all", new JsonObject { ["project"] = project });
        Assert.Equal(["accuracy", "best lr"], Names(views));
        Assert.Equal("sort=hyperparams.General.lr.value&cols=x", views["views"]![1]!["view"]!.GetValue<string>());
        Assert.Equal(project, views["views"]![1]!["project"]!.GetValue<string>());
        Assert.Empty(Names(await Api.OkAsync("views.get_all", new JsonObject { ["project"] = other })));
        Assert.Equal(["recent"], Names(await Api.OkAsync("views.get_all", new JsonObject())));

        // A viewer granted read sees the project's views and cannot change them; a member without a grant does not see the project.
        var (viewerToken, viewer) = await SignInAsNewUserAsync(Roles.Viewer);
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = project, ["user"] = viewer, ["level"] = "read" });
        var asViewer = Server.ClientWithToken(viewerToken);
        Assert.Equal(["accuracy", "best lr"], Names(await asViewer.OkAsync("views.get_all", new JsonObject { ["project"] = project })));
        Assert.Equal(403, (await asViewer.CallAsync("views.save", new JsonObject { ["project"] = project, ["name"] = "mine", ["view"] = "sort=name" })).Status);
        var (memberToken, member) = await SignInAsNewUserAsync(Roles.Member);
        var asMember = Server.ClientWithToken(memberToken);
        var hidden = await asMember.CallAsync("views.get_all", new JsonObject { ["project"] = project });
        Assert.Equal(400, hidden.Status);
        Assert.Contains($"id={project}", hidden.Message, StringComparison.Ordinal);

        // A member with write saves and deletes; the All experiments views are the whole tenant's; another tenant sees none.
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = project, ["user"] = member, ["level"] = "write" });
        var id = (await asMember.OkAsync("views.save", new JsonObject { ["project"] = project, ["name"] = "mine", ["view"] = "sort=name" }))["id"]!.GetValue<string>();
        Assert.Equal(["recent"], Names(await asMember.OkAsync("views.get_all", new JsonObject())));
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = project, ["user"] = viewer, ["level"] = "read" });
        Assert.Equal(403, (await asViewer.CallAsync("views.delete", new JsonObject { ["id"] = id })).Status);
        await asMember.OkAsync("views.delete", new JsonObject { ["id"] = id });
        Assert.Equal(["accuracy", "best lr"], Names(await Api.OkAsync("views.get_all", new JsonObject { ["project"] = project })));
        var (strangerToken, _) = await SignInAsNewUserAsync(Roles.Admin, "acme");
        var stranger = Server.ClientWithToken(strangerToken);
        Assert.Empty(Names(await stranger.OkAsync("views.get_all", new JsonObject())));
        Assert.Equal(400, (await stranger.CallAsync("views.delete", new JsonObject { ["id"] = saved["id"]!.GetValue<string>() })).Status);
    }

    [Fact]
    public async Task Bad_views_are_refused_with_400()
    {
        string[] bodies =
        [
            """{"name": "", "view": "sort=name"}""", """{"name": "a\u0001b", "view": "sort=name"}""", """{"name": "x", "view": "a\nb"}""",
            """{"name": "x"}""", """{"name": "x", "view": "sort=name", "project": "no-such-project"}""", """{"name": "x", "view": 5}""",
            $$"""{"name": "{{new string('n', 101)}}", "view": "v"}""", $$"""{"name": "long", "view": "{{new string('v', 5000)}}"}""",
        ];
        foreach (var body in bodies)
            Assert.True((await Api.CallAsync("views.save", JsonNode.Parse(body))).Status == 400, body);
        Assert.Equal(400, (await Api.CallAsync("views.delete", new JsonObject { ["id"] = "nope" })).Status);
        Assert.Empty(Names(await Api.OkAsync("views.get_all", new JsonObject())));
    }
}

public sealed class ViewsTestsOnSqlite() : ViewsTests("sqlite");

public sealed class ViewsTestsOnPostgres() : ViewsTests("postgres");
