using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Tracking;

/// <summary>examples/MlNetTraining, run as a user (or an agent) would run it.</summary>
public sealed class ExampleTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    private static string Example => Path.Combine(AppContext.BaseDirectory, "MlNetTraining.dll");

    [Fact]
    public async Task The_mlnet_example_tracks_its_run_and_a_clone_with_an_edited_parameter_trains_with_it()
    {
        using var client = server.NewClient();
        using var first = ChildRun.Start(server, "unused", [], program: Example);
        Assert.Equal(0, await first.ExitAsync());
        var project = await client.Projects.FindAsync("examples/ml.net");
        var original = (await client.Tasks.ListAsync(new TaskFilter { ProjectId = project!.Id })).Single();
        Assert.Equal("completed", original.Status);
        Assert.Equal("10", original.Parameters["General/Epochs"]);
        var scalars = await client.Tasks.GetScalarsAsync(original.Id);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), scalars["accuracy"]["test"].Iterations);
        Assert.All(scalars["accuracy"]["test"].Values, a => Assert.InRange(a, 0.7, 1.0));
        var model = await client.Models.GetAsync(Assert.Single(original.OutputModels).ModelId);
        Assert.Equal("ML.NET", model.Framework);
        var zip = await client.Models.GetLocalCopyAsync(model.Id, Path.Combine(server.DataDir, "model-cache"));
        using (var archive = System.IO.Compression.ZipFile.OpenRead(zip))
            Assert.NotEmpty(archive.Entries); // an ML.NET model is a zip of its transforms

        var clone = await client.Tasks.CloneAsync(original.Id, new TaskCloneOptions { Name = "three epochs", Parameters = new Dictionary<string, string> { ["General/Epochs"] = "3" } });
        await client.CallAsync("tasks.started", new() { ["task"] = clone.Id });
        using var remote = ChildRun.Start(server, "unused", [], new Dictionary<string, string> { ["CLEARML_TASK_ID"] = clone.Id }, program: Example);
        Assert.Equal(0, await remote.ExitAsync());
        Assert.Contains("training 3 epochs", remote.Output, StringComparison.Ordinal);
        var rerun = await client.Tasks.GetScalarsAsync(clone.Id);
        Assert.Equal([1L, 2, 3], rerun["accuracy"]["test"].Iterations);
        Assert.Single((await client.Tasks.GetAsync(clone.Id)).OutputModels);
    }
}
