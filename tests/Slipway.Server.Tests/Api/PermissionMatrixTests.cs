using System.Text.Json.Nodes;
using Slipway.Server.Api;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Tests.Infrastructure;

namespace Slipway.Server.Tests.Api;

/// <summary>
/// Every endpoint, called by each kind of caller about the entities of one private project (its task, model, the project,
/// the tenant's default queue, an admin's worker), over real HTTP: the answer is the one the rules below give, on both
/// engines. The rules, written out here as a user would state them:
/// * a role refuses what it may not call with 403 (RouteAccess);
/// * an entity of another tenant, or of a project the caller has no grant on, does not exist for it (400, invalid id);
/// * an entity the caller may read but not change refuses changes with 403;
/// * queues and workers are the tenant's: everyone reads them and uses queues, their creator or an admin changes them;
/// * deleting or sharing a project takes its owner.
/// Destructive endpoints are left out of the sweep for callers who may use them (they would remove the fixtures); the
/// deletion tests cover them.
/// </summary>
public abstract class PermissionMatrixTests(string engine) : ServerTests(engine)
{
    private static readonly HashSet<string> Destructive =
        ["tasks.delete", "tasks.delete_many", "models.delete", "projects.delete", "queues.delete", "events.delete_for_task", "workers.unregister",
         "auth.revoke_credentials", "users.delete", "users.update", "queues.get_next_task", "queues.remove_task"];

    public enum Caller { OtherTenant, MemberWithoutGrant, ViewerWithRead, MemberWithWrite, Admin, Customer }

    private sealed record Fixture(string Project, string Task, string Model, string Queue, string Worker);

    [Theory]
    [InlineData(Caller.OtherTenant)]
    [InlineData(Caller.MemberWithoutGrant)]
    [InlineData(Caller.ViewerWithRead)]
    [InlineData(Caller.MemberWithWrite)]
    [InlineData(Caller.Admin)]
    [InlineData(Caller.Customer)]
    public async Task Every_endpoint_answers_each_caller_as_the_rules_say(Caller caller)
    {
        var fixture = await CreateFixtureAsync();
        var (client, role) = await SignInAsync(caller, fixture);
        var wrong = new List<string>();
        // Routes that need no key (auth.login, autoscaler.enroll) are open to every caller by design.
        foreach (var endpoint in Server.Server.Endpoints.Where(e => e != "events.add_batch" && !Server.Server.Route(e).Anonymous))
        {
            var route = Server.Server.Route(endpoint);
            var body = Body(route.Fields, fixture);
            var expected = Expect(caller, role, endpoint, body, fixture);
            if (expected == Outcome.Allowed && Destructive.Contains(endpoint))
                continue;
            var reply = await client.CallAsync(endpoint, body);
            var actual = reply.Status == 403 ? Outcome.Forbidden
                : reply.Status == 400 && Named(fixture).Any(id => reply.Message.Contains($"id={id}", StringComparison.Ordinal)) ? Outcome.Hidden
                : reply.Status >= 500 ? Outcome.Broken
                : Outcome.Allowed;
            if (actual != expected)
                wrong.Add($"{endpoint}: expected {expected}, got {reply.Status} {reply.Message}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Theory]
    [InlineData(Caller.OtherTenant, 0)]
    [InlineData(Caller.MemberWithoutGrant, 0)]
    [InlineData(Caller.ViewerWithRead, 1)]
    [InlineData(Caller.MemberWithWrite, 1)]
    [InlineData(Caller.Admin, 1)]
    public async Task Lists_show_only_what_the_caller_may_read(Caller caller, int seen)
    {
        var fixture = await CreateFixtureAsync();
        var (client, _) = await SignInAsync(caller, fixture);
        var tasks = (await client.OkAsync("tasks.get_all", new JsonObject()))["tasks"]!.AsArray();
        var models = (await client.OkAsync("models.get_all", new JsonObject()))["models"]!.AsArray();
        var projects = (await client.OkAsync("projects.get_all_ex", new JsonObject()))["projects"]!.AsArray();
        Assert.Equal(seen, tasks.Count(t => t!["id"]!.GetValue<string>() == fixture.Task));
        Assert.Equal(seen, models.Count(m => m!["id"]!.GetValue<string>() == fixture.Model));
        Assert.Equal(seen, projects.Count(p => p!["id"]!.GetValue<string>() == fixture.Project));
        var queues = (await client.OkAsync("queues.get_all", new JsonObject()))["queues"]!.AsArray();
        Assert.Equal(caller == Caller.OtherTenant ? 0 : 1, queues.Count(q => q!["id"]!.GetValue<string>() == fixture.Queue));
        var workers = (await client.OkAsync("workers.get_all", new JsonObject()))["workers"]!.AsArray();
        Assert.Equal(caller == Caller.OtherTenant ? 0 : 1, workers.Count(w => w!["id"]!.GetValue<string>() == fixture.Worker));
    }

    [Theory]
    [InlineData(Caller.OtherTenant, false)]
    [InlineData(Caller.MemberWithoutGrant, false)]
    [InlineData(Caller.ViewerWithRead, false)]
    [InlineData(Caller.MemberWithWrite, true)]
    public async Task Events_are_stored_only_for_tasks_the_caller_may_change_and_deletion_needs_write(Caller caller, bool allowed)
    {
        var fixture = await CreateFixtureAsync();
        var (client, _) = await SignInAsync(caller, fixture);
        var batch = await client.AddBatchAsync([new JsonObject
        {
            ["type"] = "log", ["task"] = fixture.Task, ["level"] = "info", ["msg"] = "hello", ["timestamp"] = 1_700_000_000_000,
        }]);
        if (caller == Caller.ViewerWithRead)
            Assert.Equal(403, batch.Status);
        else
            Assert.Equal(allowed ? 1 : 0, batch.Data["added"]!.GetValue<int>());
        var deleted = await client.CallAsync("tasks.delete", new JsonObject { ["task"] = fixture.Task, ["force"] = true });
        Assert.Equal(allowed ? 200 : caller == Caller.ViewerWithRead ? 403 : 400, deleted.Status);
    }

    [Fact]
    public async Task A_member_sees_and_its_worker_takes_only_its_own_entries_of_a_shared_queue()
    {
        var fixture = await CreateFixtureAsync();
        var (member, _) = await SignInAsync(Caller.MemberWithoutGrant, fixture);
        var own = (await member.OkAsync("tasks.create", new JsonObject { ["name"] = "mine", ["type"] = "training" }))["id"]!.GetValue<string>();
        await member.OkAsync("tasks.enqueue", new JsonObject { ["task"] = own, ["queue"] = fixture.Queue });

        // The shared queue shows the member its own entry only; the admin sees both.
        var seen = (await member.OkAsync("queues.get_by_id", new JsonObject { ["queue"] = fixture.Queue }))["queue"]!["entries"]!.AsArray();
        Assert.Equal([own], seen.Select(e => e!["task"]!.GetValue<string>()));
        var listed = (await member.OkAsync("queues.get_all"))["queues"]!.AsArray().Single(q => q!["id"]!.GetValue<string>() == fixture.Queue)!;
        Assert.Equal([own], listed["entries"]!.AsArray().Select(e => e!["task"]!.GetValue<string>()));
        Assert.Equal(own, (await member.OkAsync("queues.peek_task", new JsonObject { ["queue"] = fixture.Queue }))["task"]!.GetValue<string>());
        Assert.Equal(2, (await Api.OkAsync("queues.get_by_id", new JsonObject { ["queue"] = fixture.Queue }))["queue"]!["entries"]!.AsArray().Count);

        var taken = await member.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = fixture.Queue });
        Assert.Equal(own, taken["entry"]!["task"]!.GetValue<string>());
        Assert.Equal("{}", (await member.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = fixture.Queue })).ToJsonString());
        Assert.Equal(fixture.Task, (await Api.OkAsync("queues.get_next_task", new JsonObject { ["queue"] = fixture.Queue }))["entry"]!["task"]!.GetValue<string>());
    }

    [Fact]
    public async Task Sharing_a_project_takes_its_owner_and_a_grant_applies_at_once()
    {
        var fixture = await CreateFixtureAsync();
        var (member, _) = await SignInAsync(Caller.MemberWithoutGrant, fixture);
        Assert.Equal(400, (await member.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = fixture.Task })).Status);
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = fixture.Project, ["user"] = AccessControl.Everyone, ["level"] = "read" });
        Assert.Equal(200, (await member.CallAsync("tasks.get_by_id", new JsonObject { ["task"] = fixture.Task })).Status);
        Assert.Equal(403, (await member.CallAsync("tasks.edit", new JsonObject { ["task"] = fixture.Task, ["comment"] = "x" })).Status);
        Assert.Equal(403, (await member.CallAsync("projects.set_permissions",
            new JsonObject { ["project"] = fixture.Project, ["user"] = AccessControl.Everyone, ["level"] = "owner" })).Status);

        // A sub-project has its parent's grants; its own creator owns it.
        var sub = (await Api.OkAsync("projects.create", new JsonObject { ["name"] = await ProjectNameAsync(fixture.Project) + "/sub" }))["id"]!.GetValue<string>();
        Assert.Equal(200, (await member.CallAsync("projects.get_by_id", new JsonObject { ["project"] = sub })).Status);
        await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = fixture.Project, ["user"] = AccessControl.Everyone, ["level"] = "none" });
        Assert.Equal(400, (await member.CallAsync("projects.get_by_id", new JsonObject { ["project"] = sub })).Status);
    }

    [Fact]
    public async Task Tenants_have_their_own_names_default_queue_and_users()
    {
        var fixture = await CreateFixtureAsync();
        var (other, _) = await SignInAsync(Caller.OtherTenant, fixture);
        var name = await ProjectNameAsync(fixture.Project);
        Assert.Equal(200, (await other.CallAsync("projects.create", new JsonObject { ["name"] = name })).Status);
        var theirDefault = (await other.OkAsync("queues.get_default"))["id"]!.GetValue<string>();
        Assert.NotEqual(fixture.Queue, theirDefault);
        var users = (await other.OkAsync("users.get_all"))["users"]!.AsArray();
        Assert.Single(users);
        Assert.Equal(403, (await other.CallAsync("users.create", new JsonObject { ["name"] = "x", ["company"] = "slipway" })).Status);
        Assert.Equal(400, (await other.CallAsync("tasks.enqueue", new JsonObject { ["task"] = fixture.Task, ["queue_name"] = "default" })).Status);
    }

    [Fact]
    public async Task The_first_tenants_admins_see_and_manage_every_tenants_users_and_no_one_else_does()
    {
        var fixture = await CreateFixtureAsync();
        var (other, _) = await SignInAsync(Caller.OtherTenant, fixture);
        var theirs = (await other.OkAsync("users.get_all"))["users"]![0]!;
        var tenant = theirs["company"]!.GetValue<string>();
        Assert.StartsWith("acme-", tenant, StringComparison.Ordinal);
        Assert.Equal(403, (await other.CallAsync("users.get_all", new JsonObject { ["all_tenants"] = true })).Status);

        var everyone = (await Api.OkAsync("users.get_all", new JsonObject { ["all_tenants"] = true }))["users"]!.AsArray();
        Assert.Contains(everyone, u => u!["company"]!.GetValue<string>() == tenant);
        Assert.Contains(everyone, u => u!["company"]!.GetValue<string>() == "slipway");
        Assert.DoesNotContain((await Api.OkAsync("users.get_all"))["users"]!.AsArray(), u => u!["company"]!.GetValue<string>() == tenant);

        // A tenant's last admin stays, whoever asks; another tenant's admin cannot touch the first tenant's users.
        var theirId = theirs["id"]!.GetValue<string>();
        Assert.Equal(400, (await Api.CallAsync("users.update", new JsonObject { ["user"] = theirId, ["role"] = "member" })).Status);
        var rootAdmin = (await Api.OkAsync("users.get_all"))["users"]!.AsArray().First(u => u!["role"]!.GetValue<string>() == "admin")!["id"]!.GetValue<string>();
        Assert.Equal(400, (await other.CallAsync("users.update", new JsonObject { ["user"] = rootAdmin, ["disabled"] = true })).Status);
        Assert.Equal(200, (await Api.CallAsync("users.update", new JsonObject { ["user"] = theirId, ["name"] = "acme owner" })).Status);
        Assert.Equal("acme owner", (await other.OkAsync("users.get_all"))["users"]![0]!["name"]!.GetValue<string>());
    }

    private enum Outcome { Allowed, Forbidden, Hidden, Broken }

    private static Outcome Expect(Caller caller, string role, string endpoint, JsonObject body, Fixture fixture)
    {
        var allowedRole = role switch
        {
            Roles.Admin => true,
            Roles.Member => !RouteAccess.AdminOnly.Contains(endpoint),
            Roles.Viewer => RouteAccess.Reads.Contains(endpoint) || RouteAccess.OwnKeys.Contains(endpoint),
            _ => RouteAccess.Customer.Contains(endpoint) || RouteAccess.OwnKeys.Contains(endpoint),
        };
        if (!allowedRole)
            return Outcome.Forbidden;
        if (EntityGuard.Lists.Contains(endpoint))
            return Outcome.Allowed;
        var reading = RouteAccess.Reads.Contains(endpoint);
        var outcome = Outcome.Allowed;
        // Worker ids are per tenant: the same id from another tenant names a worker of its own. Outside workers.* a worker id
        // is no entity to guard: queues.get_next_task's is the caller's word for which worker asks, and only holds work back.
        foreach (var (id, kind) in Subjects(body, fixture)
                     .Where(s => s.Id != fixture.Worker || (caller != Caller.OtherTenant && endpoint.StartsWith("workers.", StringComparison.Ordinal))))
        {
            var (read, write) = kind switch
            {
                // The project's entities: the grant decides.
                "project" => caller switch
                {
                    Caller.Admin or Caller.MemberWithWrite => (true, true),
                    Caller.ViewerWithRead => (true, false),
                    _ => (false, false),
                },
                // The tenant's shared compute, made by the admin.
                _ => caller switch
                {
                    Caller.OtherTenant => (false, false),
                    Caller.Admin => (true, true),
                    _ => (true, false),
                },
            };
            var needsWrite = !reading && !(id == fixture.Queue && endpoint is not ("queues.update" or "queues.delete"))
                                      && !(endpoint == "tasks.clone" && id == fixture.Task);
            if (!read)
                return Outcome.Hidden;
            if (needsWrite && !write)
                outcome = Outcome.Forbidden;
            if (endpoint is "projects.delete" or "projects.set_permissions" && id == fixture.Project && caller != Caller.Admin)
                outcome = Outcome.Forbidden;
        }
        return outcome;
    }

    /// <summary>The fixture's entities a body names, and whether each is the project's or the tenant's.</summary>
    private static IEnumerable<(string Id, string Kind)> Subjects(JsonObject body, Fixture f)
    {
        foreach (var (_, value) in body)
        {
            foreach (var id in value is JsonArray a ? a.Select(v => v!.GetValue<string>()) : [value!.GetValue<string>()])
            {
                if (id == f.Queue || id == f.Worker)
                    yield return (id, "queue");
                else if (id == f.Task || id == f.Model || id == f.Project)
                    yield return (id, "project");
            }
        }
    }

    private static IEnumerable<string> Named(Fixture f) => [f.Task, f.Model, f.Project, f.Queue, f.Worker];

    /// <summary>Each accepted field that names an entity gets the fixture's; nothing else, so a call fails only on purpose.</summary>
    private static JsonObject Body(IReadOnlySet<string>? fields, Fixture f)
    {
        var body = new JsonObject();
        void Offer(string field, JsonNode value)
        {
            // A route that takes any field (events.add) gets the task only: the rest of its body is the event's.
            if (fields is null ? field == "task" : fields.Contains(field))
                body[field] = value;
        }
        Offer("task", f.Task);
        Offer("tasks", new JsonArray(f.Task));
        Offer("model", f.Model);
        Offer("project", f.Project);
        Offer("queue", f.Queue);
        Offer("worker", f.Worker);
        return body;
    }

    private async Task<Fixture> CreateFixtureAsync()
    {
        var name = "private-" + Guid.NewGuid().ToString("N")[..8];
        var project = (await Api.OkAsync("projects.create", new JsonObject { ["name"] = name }))["id"]!.GetValue<string>();
        var task = await CreateTaskAsync("t", project);
        var model = (await Api.OkAsync("models.create", new JsonObject { ["name"] = "m", ["uri"] = "http://x/m.bin", ["project"] = project }))["id"]!.GetValue<string>();
        var queue = (await Api.OkAsync("queues.get_default"))["id"]!.GetValue<string>();
        // Waiting in the queue, so that the queue endpoints have an entry to move.
        await Api.OkAsync("tasks.enqueue", new JsonObject { ["task"] = task, ["queue"] = queue });
        var worker = "admin-worker-" + name;
        await Api.OkAsync("workers.register", new JsonObject { ["worker"] = worker });
        return new Fixture(project, task, model, queue, worker);
    }

    private async Task<string> ProjectNameAsync(string project) =>
        (await Api.OkAsync("projects.get_by_id", new JsonObject { ["project"] = project }))["project"]!["name"]!.GetValue<string>();

    private async Task<(ApiClient Client, string Role)> SignInAsync(Caller caller, Fixture fixture)
    {
        if (caller == Caller.Admin)
            return (Api, Roles.Admin);
        var (role, company) = caller switch
        {
            Caller.OtherTenant => (Roles.Admin, "acme-" + Guid.NewGuid().ToString("N")[..6]),
            Caller.ViewerWithRead => (Roles.Viewer, null),
            Caller.Customer => (Roles.Customer, null),
            _ => (Roles.Member, (string?)null),
        };
        var (user, key, secret) = await NewUserAsync(caller.ToString(), role, company);
        var grant = caller switch { Caller.ViewerWithRead => "read", Caller.MemberWithWrite => "write", _ => null };
        if (grant is not null)
            await Api.OkAsync("projects.set_permissions", new JsonObject { ["project"] = fixture.Project, ["user"] = user, ["level"] = grant });
        var token = await ServerUnderTest.LoginAsync(Server.Api, key, secret);
        return (Server.ClientWithToken(token), role);
    }
}

public sealed class PermissionMatrixTestsOnSqlite() : PermissionMatrixTests("sqlite");

public sealed class PermissionMatrixTestsOnPostgres() : PermissionMatrixTests("postgres");
