using Slipway.Client.Tests.Infrastructure;
using Slipway.Client.Tracking;

namespace Slipway.Client.Tests;

/// <summary>The operations that reproduce a run from code: list, clone with changes, enqueue, wait, abort, reset, publish, archive, delete.</summary>
public sealed class ReproductionTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private async Task<(SlipwayClient Client, string TaskId, string Project)> CompletedRunAsync(string name = "source")
    {
        var client = server.NewClient();
        var project = "repro/" + Guid.NewGuid().ToString("N")[..6];
        await using var run = await Experiment.StartAsync(new ExperimentOptions
        {
            Project = project, Name = name, Client = client, HandleProcessExit = false, CaptureConsole = false, CaptureArguments = false, MonitorInterval = null,
        });
        await run.ConnectAsync(new Dictionary<string, object?> { ["lr"] = 0.1, ["epochs"] = 3 });
        run.Log.Scalar("loss", "train", 0.5, 1);
        run.Log.Text("epoch 1 done");
        await run.CompleteAsync();
        return (client, run.Id, project);
    }

    [Fact]
    public async Task A_clone_with_changes_is_enqueued_listed_and_waited_for()
    {
        var (client, source, project) = await CompletedRunAsync();
        using var _ = client;
        var queue = "repro-" + Guid.NewGuid().ToString("N")[..6];
        var clone = await client.Tasks.CloneAsync(source, new TaskCloneOptions
        {
            Name = "lr 0.01",
            Parameters = new Dictionary<string, string> { ["General/lr"] = "0.01", ["extra"] = "x" },
            Code = new CodeReference { Branch = "feature", Commit = "abc123" },
            Tags = ["retry"],
        });
        Assert.Equal("created", clone.Status);
        Assert.Equal(source, clone.Parent);
        Assert.Equal("lr 0.01", clone.Name);
        Assert.Equal("0.01", clone.Parameters["General/lr"]);
        Assert.Equal("3", clone.Parameters["General/epochs"]);
        Assert.Equal("x", clone.Parameters["General/extra"]);
        Assert.Equal(("feature", "abc123"), (clone.Code.Branch, clone.Code.Commit));
        Assert.Equal("dotnet", clone.Code.Binary);
        Assert.Equal(["retry"], clone.Tags);

        await client.Tasks.EnqueueAsync(clone.Id, queue);
        Assert.Equal("queued", (await client.Tasks.GetAsync(clone.Id)).Status);
        Assert.Equal([clone.Id], (await client.Queues.FindAsync(queue))!.Entries);
        await client.Tasks.DequeueAsync(clone.Id);
        Assert.Equal("created", (await client.Tasks.GetAsync(clone.Id)).Status);
        await client.Tasks.EnqueueAsync(clone.Id, queue);

        var projectId = (await client.Projects.FindAsync(project))!.Id;
        var listed = await client.Tasks.ListAsync(new TaskFilter { ProjectId = projectId });
        Assert.Equal(2, listed.Count);
        Assert.Single(await client.Tasks.ListAsync(new TaskFilter { ProjectId = projectId, Statuses = ["queued"] }));
        Assert.Single(await client.Tasks.ListAsync(new TaskFilter { ProjectId = projectId, Tags = ["retry"] }));
        Assert.Single(await client.Tasks.ListAsync(new TaskFilter { ProjectId = projectId, Name = "lr 0.01", ExactName = true }));

        // An agent would take it from the queue; here it is started and ended by hand.
        await client.CallAsync("tasks.started", new() { ["task"] = clone.Id, ["force"] = true });
        var waiting = client.Tasks.WaitAsync(clone.Id, TimeSpan.FromMilliseconds(20));
        Assert.False(waiting.IsCompleted);
        await client.CallAsync("tasks.completed", new() { ["task"] = clone.Id });
        Assert.Equal("completed", (await waiting).Status);
    }

    [Fact]
    public async Task Abort_reset_publish_archive_and_delete_follow_the_state_machine()
    {
        var (client, source, project) = await CompletedRunAsync();
        using var _ = client;
        var running = await client.Tasks.CloneAsync(source);
        await client.CallAsync("tasks.started", new() { ["task"] = running.Id, ["force"] = true });
        await client.Tasks.AbortAsync(running.Id, "enough");
        Assert.Equal("stopped", (await client.Tasks.GetAsync(running.Id)).Status);

        await client.Tasks.ResetAsync(running.Id);
        Assert.Equal("created", (await client.Tasks.GetAsync(running.Id)).Status);

        var refused = await Assert.ThrowsAsync<SlipwayException>(() => client.Tasks.PublishAsync(running.Id));
        Assert.Equal(400, refused.ResultCode);
        await client.Tasks.PublishAsync(source);
        Assert.Equal("published", (await client.Tasks.GetAsync(source)).Status);

        await client.Tasks.ArchiveAsync([running.Id]);
        var projectId = (await client.Projects.FindAsync(project))!.Id;
        Assert.DoesNotContain(await client.Tasks.ListAsync(new TaskFilter { ProjectId = projectId }), t => t.Id == running.Id);
        Assert.Contains(await client.Tasks.ListAsync(new TaskFilter { ProjectId = projectId, IncludeArchived = true }), t => t.Id == running.Id);

        await client.Tasks.DeleteAsync(running.Id);
        var gone = await Assert.ThrowsAsync<SlipwayException>(() => client.Tasks.GetAsync(running.Id));
        Assert.Equal(101, gone.ResultSubcode);
    }

    [Fact]
    public async Task Scalars_and_console_of_a_run_read_back()
    {
        var (client, source, _) = await CompletedRunAsync();
        using var _ = client;
        var scalars = await client.Tasks.GetScalarsAsync(source);
        Assert.Equal([0.5], scalars["loss"]["train"].Values);
        var console = await client.Tasks.GetConsoleAsync(source).ToListAsync();
        Assert.Equal("epoch 1 done", Assert.Single(console).Message);
    }

    /// <summary>The registration's iteration is sent as models.edit's "iteration" and stored as "last_iteration", which is what a read must show.</summary>
    [Fact]
    public async Task A_registered_model_reads_back_the_iteration_it_was_saved_at()
    {
        using var client = server.NewClient();
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "weights");
            var model = await client.Models.RegisterAsync(new ModelRegistration { File = file, Name = "at-iteration", Iteration = 1200 });
            Assert.Equal(1200, model.Iteration);
            Assert.Equal(1200, (await client.Models.GetAsync(model.Id)).Iteration);
            Assert.Null((await client.Models.RegisterAsync(new ModelRegistration { File = file, Name = "no-iteration" })).Iteration);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Models_are_listed_published_and_queues_deleted()
    {
        using var client = server.NewClient();
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "weights");
            var project = await client.Projects.GetOrCreateAsync("models-" + Guid.NewGuid().ToString("N")[..6]);
            var model = await client.Models.RegisterAsync(new ModelRegistration { File = file, Name = "m1", ProjectId = project, Framework = "ONNX", Tags = ["best"] });
            Assert.False(model.Ready);
            Assert.Equal(["best"], model.Tags);
            Assert.Single(await client.Models.ListAsync(projectId: project));
            Assert.Empty(await client.Models.ListAsync(projectId: project, publishedOnly: true));
            await client.Models.PublishAsync(model.Id);
            Assert.True((await client.Models.GetAsync(model.Id)).Ready);
            Assert.Single(await client.Models.ListAsync(projectId: project, publishedOnly: true));

            var missing = await Assert.ThrowsAsync<SlipwayException>(() => client.Models.RegisterAsync(new ModelRegistration { File = "/nonexistent.onnx", Name = "x" }));
            Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);

            await client.Files.DeleteAsync(new Uri(model.Uri!));
            var deleted = await Assert.ThrowsAsync<SlipwayException>(() => client.Files.OpenReadAsync(new Uri(model.Uri!)));
            Assert.Contains("does not exist", deleted.Message, StringComparison.Ordinal);

            var queue = await client.Queues.CreateAsync("doomed-" + Guid.NewGuid().ToString("N")[..6]);
            await client.Queues.DeleteAsync(queue);
            Assert.DoesNotContain(await client.Queues.ListAsync(), q => q.Id == queue);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
