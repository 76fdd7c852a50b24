using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>Tokens follow their keys and users, roles limit what each user may call, and security actions are audited.</summary>
public abstract class SecurityTests(string engine) : ServerTests(engine)
{
    [Fact]
    public async Task A_revoked_keys_token_stops_working_on_the_next_request_and_cannot_be_renewed()
    {
        var (_, key, secret) = await NewUserAsync("ann", Roles.Member);
        using var ann = Server.ClientWithToken(await ServerUnderTest.LoginAsync(Server.Api, key, secret));
        Assert.Equal(200, (await ann.CallAsync("tasks.get_all")).Status);
        Assert.Equal(200, (await ann.CallAsync("auth.login")).Status);

        await Api.OkAsync("auth.revoke_credentials", new JsonObject { ["access_key"] = key });
        Assert.Equal((401, 30), await StatusOf(ann.CallAsync("tasks.get_all")));
        Assert.Equal(401, (await ann.CallAsync("auth.login")).Status);
    }

    [Fact]
    public async Task A_parent_the_caller_may_not_read_is_refused_as_unknown()
    {
        var project = (await Api.OkAsync("projects.create", new JsonObject { ["name"] = "private parents " + Guid.NewGuid().ToString("N")[..6], ["description"] = "" }))["id"]!.GetValue<string>();
        var task = (await Api.OkAsync("tasks.create", new JsonObject { ["name"] = "secret", ["type"] = "training", ["project"] = project }))["id"]!.GetValue<string>();
        var model = (await Api.OkAsync("models.create", new JsonObject { ["name"] = "secret", ["uri"] = "file:///m.bin", ["project"] = project }))["id"]!.GetValue<string>();
        var (token, _) = await SignInAsNewUserAsync(Roles.Member);
        using var member = Server.ClientWithToken(token);

        var child = await member.CallAsync("tasks.create", new JsonObject { ["name"] = "child", ["type"] = "training", ["parent"] = task });
        Assert.Equal(400, child.Status);
        Assert.Contains(task, child.Message, StringComparison.Ordinal);
        Assert.Equal(400, (await member.CallAsync("models.create", new JsonObject { ["name"] = "child", ["uri"] = "file:///c.bin", ["parent"] = model })).Status);

        var own = (await member.OkAsync("tasks.create", new JsonObject { ["name"] = "mine", ["type"] = "training" }))["id"]!.GetValue<string>();
        Assert.Equal(200, (await member.CallAsync("tasks.create", new JsonObject { ["name"] = "my child", ["type"] = "training", ["parent"] = own })).Status);
    }

    [Fact]
    public async Task Disabling_deleting_and_changing_a_role_apply_to_tokens_already_issued()
    {
        var (user, key, secret) = await NewUserAsync("ben", Roles.Member);
        using var ben = Server.ClientWithToken(await ServerUnderTest.LoginAsync(Server.Api, key, secret));
        Assert.Equal(200, (await ben.CallAsync("projects.create", new JsonObject { ["name"] = "ben-1" })).Status);

        await Api.OkAsync("users.update", new JsonObject { ["user"] = user, ["role"] = Roles.Viewer });
        Assert.Equal(403, (await ben.CallAsync("projects.create", new JsonObject { ["name"] = "ben-2" })).Status);
        Assert.Equal(200, (await ben.CallAsync("projects.get_all")).Status);
        Assert.Equal(Roles.Viewer, (await ben.OkAsync("users.get_current_user"))["user"]!["role"]!.GetValue<string>());

        await Api.OkAsync("users.update", new JsonObject { ["user"] = user, ["disabled"] = true });
        Assert.Equal((401, 30), await StatusOf(ben.CallAsync("projects.get_all")));
        await Assert.ThrowsAsync<InvalidOperationException>(() => ServerUnderTest.LoginAsync(Server.Api, key, secret));

        await Api.OkAsync("users.update", new JsonObject { ["user"] = user, ["disabled"] = false });
        Assert.Equal(200, (await ben.CallAsync("projects.get_all")).Status);

        await Api.OkAsync("users.delete", new JsonObject { ["user"] = user });
        Assert.Equal((401, 30), await StatusOf(ben.CallAsync("projects.get_all")));
        var users = await Api.OkAsync("users.get_all");
        Assert.DoesNotContain(users["users"]!.AsArray(), u => u!["id"]!.GetValue<string>() == user);
    }

    [Fact]
    public async Task The_last_admin_cannot_be_demoted_disabled_or_deleted()
    {
        var me = (await Api.OkAsync("users.get_current_user"))["user"]!["id"]!.GetValue<string>();
        foreach (var change in new JsonObject[] { new() { ["role"] = Roles.Member }, new() { ["disabled"] = true } })
        {
            change["user"] = me;
            Assert.Equal(400, (await Api.CallAsync("users.update", change)).Status);
        }
        Assert.Equal(400, (await Api.CallAsync("users.delete", new JsonObject { ["user"] = me })).Status);

        var (other, _, _) = await NewUserAsync("second-admin", Roles.Admin);
        await Api.OkAsync("users.update", new JsonObject { ["user"] = other, ["role"] = Roles.Member });
        Assert.Equal(400, (await Api.CallAsync("users.update", new JsonObject { ["user"] = me, ["role"] = "nonsense" })).Status);
    }

    /// <summary>Every endpoint, called by each role: refused with a 403 envelope exactly where the route table says so.</summary>
    [Theory]
    [InlineData(Roles.Member)]
    [InlineData(Roles.Viewer)]
    [InlineData(Roles.Customer)]
    public async Task Each_role_is_refused_exactly_the_endpoints_it_may_not_call(string role)
    {
        var (_, key, secret) = await NewUserAsync("as-" + role, role);
        using var client = Server.ClientWithToken(await ServerUnderTest.LoginAsync(Server.Api, key, secret));
        var wrong = new List<string>();
        // Routes that need no key (auth.login, autoscaler.enroll) are open to every caller by design.
        foreach (var endpoint in Server.Server.Endpoints.Where(e => !Server.Server.Route(e).Anonymous))
        {
            var allowed = role switch
            {
                Roles.Member => !RouteAccess.AdminOnly.Contains(endpoint),
                Roles.Viewer => RouteAccess.Reads.Contains(endpoint) || RouteAccess.OwnKeys.Contains(endpoint),
                _ => RouteAccess.Customer.Contains(endpoint) || RouteAccess.OwnKeys.Contains(endpoint),
            };
            // An empty body: allowed calls fail validation or succeed, refused ones must be refused before anything runs.
            var reply = await client.CallAsync(endpoint, new JsonObject());
            if ((reply.Status == 403) == allowed || reply.Status >= 500)
                wrong.Add($"{endpoint}: {reply.Status} {reply.Message}");
        }
        Assert.Empty(wrong);
    }

    [Fact]
    public async Task A_customer_runs_published_templates_and_sees_only_them_and_its_own_tasks()
    {
        var template = await CreateTaskAsync("template");
        var draft = await CreateTaskAsync("private draft");
        await Api.OkAsync("tasks.started", new JsonObject { ["task"] = template });
        await Api.OkAsync("tasks.completed", new JsonObject { ["task"] = template });
        await Api.OkAsync("tasks.publish", new JsonObject { ["task"] = template });
        var (_, key, secret) = await NewUserAsync("customer", Roles.Customer);
        using var customer = Server.ClientWithToken(await ServerUnderTest.LoginAsync(Server.Api, key, secret));

        // Another user's unpublished task does not exist for a customer; a template may be read and cloned, not run.
        Assert.Equal((400, 101), await StatusOf(customer.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = draft })));
        Assert.Equal((400, 101), await StatusOf(customer.CallAsync("tasks.clone", new JsonObject { ["task"] = draft })));
        Assert.Equal((400, 101), await StatusOf(customer.CallAsync("events.get_task_log", new JsonObject { ["task"] = draft })));
        Assert.Equal(403, (await customer.CallAsync("tasks.enqueue", new JsonObject { ["task"] = template })).Status);
        var clone = (await customer.OkAsync("tasks.clone", new JsonObject { ["task"] = template }))["id"]!.GetValue<string>();
        await customer.OkAsync("tasks.enqueue", new JsonObject { ["task"] = clone, ["queue_name"] = "default" });
        await customer.OkAsync("events.get_task_log", new JsonObject { ["task"] = clone });

        var listed = (await customer.OkAsync("tasks.get_all"))["tasks"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(new[] { clone, template }.Order(), listed);
        Assert.Equal(403, (await customer.CallAsync("projects.get_all")).Status);
    }

    [Fact]
    public async Task Sign_ins_keys_user_changes_and_deletions_are_audited_for_admins_only()
    {
        var (user, key, secret) = await NewUserAsync("audited", Roles.Member);
        await Assert.ThrowsAsync<InvalidOperationException>(() => ServerUnderTest.LoginAsync(Server.Api, key, "wrong"));
        using var member = Server.ClientWithToken(await ServerUnderTest.LoginAsync(Server.Api, key, secret));
        var task = (await member.OkAsync("tasks.create", new JsonObject { ["name"] = "t", ["type"] = "training" }))["id"]!.GetValue<string>();
        await member.OkAsync("tasks.delete", new JsonObject { ["task"] = task });
        Assert.Equal(403, (await member.CallAsync("audit.get_all")).Status);
        await Api.OkAsync("users.update", new JsonObject { ["user"] = user, ["role"] = Roles.Viewer });
        await Api.OkAsync("auth.revoke_credentials", new JsonObject { ["access_key"] = key });

        var events = (await Api.OkAsync("audit.get_all"))["events"]!.AsArray().Select(e => (JsonObject)e!).ToList();
        var actions = events.Select(e => e["action"]!.GetValue<string>()).ToList();
        Assert.Equal(["credentials_revoked", "user_updated", "tasks.delete", "login", "login_failed", "credentials_created", "user_created"],
            actions.Take(7).ToList());
        Assert.Equal(task, events[2]["details"]!["task"]!.GetValue<string>());
        Assert.Equal(user, events[2]["user"]!.GetValue<string>());
        Assert.DoesNotContain(events, e => e.ToJsonString().Contains(secret, StringComparison.Ordinal));
        var onlyLogins = (await Api.OkAsync("audit.get_all", new JsonObject { ["action"] = "login", ["user"] = user }))["events"]!.AsArray();
        Assert.Single(onlyLogins);
    }

    [Fact]
    public async Task Wrong_secrets_lock_the_key_out_with_429()
    {
        var (_, key, secret) = await NewUserAsync("guessed", Roles.Member);
        for (var i = 0; i < LoginThrottle.FreeFailuresPerKey; i++)
            Assert.Equal(401, (await BasicLoginAsync(key, "wrong" + i)).Status);
        Assert.Equal(401, (await BasicLoginAsync(key, "wrong again")).Status);
        var locked = await BasicLoginAsync(key, secret);
        Assert.Equal(429, locked.Status);
        Assert.Contains("try again", locked.Message, StringComparison.Ordinal);
        // The admin's own key is not locked by someone guessing another key.
        Assert.Equal(200, (await BasicLoginAsync(Server.Admin.AccessKey, Server.Admin.SecretKey)).Status);
    }

    [Fact]
    public async Task The_api_does_not_accept_the_web_uis_cookie()
    {
        using var http = new HttpClient { BaseAddress = Server.Api };
        http.DefaultRequestHeaders.Add("Cookie", $"{Authenticator.CookieName}={Api.Token}");
        var reply = await http.PostAsync("tasks.get_all", new StringContent("{}"));
        Assert.Equal(401, (int)reply.StatusCode);
    }

    private async Task<Reply> BasicLoginAsync(string key, string secret)
    {
        using var anonymous = Server.ClientWithToken(null);
        using var request = new HttpRequestMessage(HttpMethod.Post, "auth.login") { Content = new StringContent("{}") };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{key}:{secret}")));
        return await anonymous.SendAsync(request);
    }

    private static async Task<(int, int)> StatusOf(Task<Reply> call)
    {
        var reply = await call;
        return (reply.Status, reply.Subcode);
    }

    [Fact]
    public async Task Project_names_inside_private_projects_are_refused_and_a_hidden_name_clash_says_so()
    {
        var secret = await CreateProjectAsync("secret");
        var shared = await CreateProjectAsync("shared");
        var (token, member) = await SignInAsNewUserAsync(Roles.Member);
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = shared, ["user"] = member, ["level"] = "read" });
        var asMember = Server.ClientWithToken(token);

        var clash = await asMember.CallAsync("projects.create", new JsonObject { ["name"] = "secret" });
        Assert.Equal(400, clash.Status);
        Assert.Contains("no access to", clash.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, clash.Message, StringComparison.Ordinal);
        Assert.Equal(403, (await asMember.CallAsync("projects.create", new JsonObject { ["name"] = "secret/planted" })).Status);
        Assert.Equal(403, (await asMember.CallAsync("projects.create", new JsonObject { ["name"] = "shared/planted" })).Status); // read is not enough
        var task = (await asMember.OkAsync("tasks.create", new JsonObject { ["name"] = "t", ["type"] = "training" }))["id"]!.GetValue<string>();
        Assert.Equal(403, (await asMember.CallAsync("tasks.clone", new JsonObject { ["task"] = task, ["new_project_name"] = "secret" })).Status);
        Assert.Single((await Api.OkAsync("projects.get_all", new JsonObject { ["name"] = "^secret" }))["projects"]!.AsArray());

        // Write access to the parent is enough; a member's own new tree is its own.
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = shared, ["user"] = member, ["level"] = "write" });
        await asMember.OkAsync("projects.create", new JsonObject { ["name"] = "shared/mine" });
        await asMember.OkAsync("projects.create", new JsonObject { ["name"] = "own/deep/tree" });
        await asMember.OkAsync("tasks.clone", new JsonObject { ["task"] = task, ["new_project_name"] = "own/deep/tree" });
        Assert.Equal(400, (await asMember.CallAsync("projects.create", new JsonObject { ["name"] = "own/deep" })).Status);
    }
}

public sealed class SecurityTestsOnSqlite() : SecurityTests("sqlite");

public sealed class SecurityTestsOnPostgres() : SecurityTests("postgres");

/// <summary>Two replicas on one PostgreSQL database: a key revoked through one is refused by the other on its next request.</summary>
public sealed class RevocationAcrossReplicasTests
{
    [Fact]
    public async Task A_key_revoked_on_one_replica_is_refused_by_the_other()
    {
        await using var first = await ServerUnderTest.StartAsync("postgres");
        var database = first.Server.Options.Db;
        await using var second = await ServerUnderTest.StartAsync("postgres", database: database);
        var user = (await first.Client.OkAsync("users.create", new JsonObject { ["name"] = "r" }))["id"]!.GetValue<string>();
        var keys = (await first.Client.OkAsync("auth.create_credentials", new JsonObject { ["user"] = user }))["credentials"]!;
        var key = keys["access_key"]!.GetValue<string>();
        using var onSecond = second.ClientWithToken(await ServerUnderTest.LoginAsync(second.Api, key, keys["secret_key"]!.GetValue<string>()));
        Assert.Equal(200, (await onSecond.CallAsync("tasks.get_all")).Status);

        await first.Client.OkAsync("auth.revoke_credentials", new JsonObject { ["access_key"] = key });
        Assert.Equal(401, (await onSecond.CallAsync("tasks.get_all")).Status);
    }
}

public sealed class RouteAccessTests
{
    [Fact]
    public async Task Every_route_the_table_names_exists()
    {
        await using var server = await ServerUnderTest.StartAsync("sqlite");
        var routes = server.Server.Endpoints.ToHashSet();
        var named = RouteAccess.Reads.Concat(RouteAccess.OwnKeys).Concat(RouteAccess.AdminOnly).Concat(RouteAccess.Customer);
        Assert.DoesNotContain(named, n => !routes.Contains(n));
    }

    [Fact]
    public void Lockouts_double_and_end()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var throttle = new LoginThrottle(clock);
        for (var i = 0; i < LoginThrottle.FreeFailuresPerKey; i++)
            throttle.Failed("K", "1.2.3.4");
        throttle.Check("K", "1.2.3.4");
        throttle.Failed("K", "1.2.3.4");
        Assert.Equal(429, Assert.Throws<Slipway.Server.Core.ApiException>(() => throttle.Check("K", "1.2.3.4")).Code);
        clock.Advance(TimeSpan.FromSeconds(1.5));
        throttle.Check("K", "1.2.3.4");
        throttle.Failed("K", "1.2.3.4");
        clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Throws<Slipway.Server.Core.ApiException>(() => throttle.Check("K", "1.2.3.4"));
        clock.Advance(TimeSpan.FromSeconds(1));
        throttle.Check("K", "1.2.3.4");
        throttle.Succeeded("K");
        throttle.Failed("K", "1.2.3.4");
        throttle.Check("K", "1.2.3.4");
    }
}
