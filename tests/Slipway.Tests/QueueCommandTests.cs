using Slipway.Commands;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

public sealed class QueueCommandTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task Create_prints_the_id_and_list_shows_the_queue_with_its_entry_count()
    {
        var name = CliServer.Unique("q");
        var id = (await server.RunAsync("queue", "create", name)).Ok().Out.Trim();
        Assert.Equal(id, (await server.Client.Queues.FindAsync(name))!.Id);
        var projectId = await server.CreateProjectAsync();
        await server.Client.Tasks.EnqueueAsync(await server.CreateTaskAsync("waiting", projectId), name);

        var text = (await server.RunAsync("queue", "list")).Ok().Out;
        var row = Assert.Single(text.Split('\n'), l => l.StartsWith(name + " ", StringComparison.Ordinal));
        Assert.Equal([name, id, "1"], row.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        var json = (await server.RunAsync("queue", "list", "--json")).Json().AsArray().Single(q => q!["name"]!.GetValue<string>() == name)!;
        Assert.Equal(id, json["id"]!.GetValue<string>());
        Assert.Equal(1, json["entry_count"]!.GetValue<int>());
    }

    [Fact]
    public async Task Show_lists_the_waiting_tasks_in_order_with_their_names_by_queue_name_or_id()
    {
        var name = CliServer.Unique("q");
        var queueId = await server.Client.Queues.CreateAsync(name);
        var projectId = await server.CreateProjectAsync();
        var first = await server.CreateTaskAsync("first-in-line", projectId);
        var second = await server.CreateTaskAsync("second-in-line", projectId);
        await server.Client.Tasks.EnqueueAsync(first, name);
        await server.Client.Tasks.EnqueueAsync(second, name);

        var text = (await server.RunAsync("queue", "show", name)).Ok().Out;
        Assert.Matches($@"(?s)1\s+{first}\s+first-in-line\s+queued.*2\s+{second}\s+second-in-line\s+queued", text);

        var json = (await server.RunAsync("queue", "show", queueId, "--json")).Json();
        Assert.Equal(name, json["name"]!.GetValue<string>());
        Assert.Equal(["first-in-line", "second-in-line"], json["entries"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()));
        Assert.Equal([first, second], json["entries"]!.AsArray().Select(e => e!["task"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Creating_a_queue_that_exists_exits_1()
    {
        var name = CliServer.Unique("q");
        await server.Client.Queues.CreateAsync(name);

        var run = await server.RunAsync("queue", "create", name);

        Assert.Equal(ExitCodes.Failed, run.Exit);
        Assert.Contains(name, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Showing_an_unknown_queue_exits_1()
    {
        var run = await server.RunAsync("queue", "show", "no-such-queue");

        Assert.Equal(ExitCodes.Failed, run.Exit);
        Assert.Contains("no queue named 'no-such-queue'", run.Error, StringComparison.Ordinal);
    }
}
