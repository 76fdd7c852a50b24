using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Slipway.Client.Datasets;
using Slipway.Web.Tests.Infrastructure;

namespace Slipway.Web.Tests;

[Collection("web")]
public sealed class DatasetsPageTests(WebFixture web)
{
    [Fact]
    public async Task A_dataset_shows_both_versions_and_the_child_s_page_draws_its_parent_and_lists_its_files()
    {
        var unique = Guid.NewGuid().ToString("N")[..8];
        var project = $"registry-ds-{unique}";
        var folder = Directory.CreateTempSubdirectory("slipway-web-dataset-");
        try
        {
            var parentFiles = Write(folder.FullName, "v1", new() { ["images/cat.png"] = "meow meow", ["labels.csv"] = "id,label\n1,cat\n" });
            var parent = await web.Client.Datasets.CreateAsync(project, "pets");
            await parent.AddFilesAsync(parentFiles);
            await parent.UploadAsync();
            await parent.FinalizeAsync();
            var childFiles = Write(folder.FullName, "v2", new() { ["images/dog.png"] = "woof woof woof" });
            var child = await web.Client.Datasets.CreateAsync(project, "pets", new DatasetCreateOptions { Parents = [parent.Id] });
            await child.AddFilesAsync(childFiles);
            await child.UploadAsync();
            await child.FinalizeAsync();

            await using var tab = await web.SignedInPageAsync();
            await tab.GotoAsync("datasets");
            var dataset = tab.Page.Locator("tbody[data-dataset]", new() { HasText = $"in {project}" });
            await Assertions.Expect(dataset.Locator("tr.version-row")).ToHaveCountAsync(2);
            var childRow = dataset.Locator($"tr[data-version='{child.Id}']");
            await Assertions.Expect(childRow).ToContainTextAsync(child.Version!);
            await Assertions.Expect(childRow).ToContainTextAsync("completed");
            await Assertions.Expect(childRow.Locator("td").Nth(3)).ToHaveTextAsync("3");
            await Assertions.Expect(childRow.GetByRole(AriaRole.Link, new() { Name = $"pets {parent.Version}" })).ToHaveAttributeAsync("href", $"datasets/{parent.Id}");
            await Assertions.Expect(dataset.Locator($"tr[data-version='{parent.Id}'] td").Nth(3)).ToHaveTextAsync("2");
            await tab.ScreenshotAsync("datasets");

            await childRow.GetByRole(AriaRole.Link, new() { Name = $"pets {child.Version}" }).ClickAsync();
            await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync($"pets {child.Version}");
            var graph = tab.Page.Locator("svg.lineage");
            await Assertions.Expect(graph.Locator($"g.node.current[data-version='{child.Id}']")).ToContainTextAsync(child.Version!);
            await Assertions.Expect(graph.Locator($"g.node[data-version='{parent.Id}']")).ToContainTextAsync($"pets {parent.Version}");
            await Assertions.Expect(graph.Locator($"path.edge[data-from='{parent.Id}'][data-to='{child.Id}']")).ToHaveCountAsync(1);

            var files = tab.Page.Locator("table.file-list tbody tr");
            await Assertions.Expect(files).ToHaveCountAsync(3);
            var dog = tab.Page.Locator("tr[data-path='images/dog.png']");
            await Assertions.Expect(dog).ToContainTextAsync("14 B");
            await Assertions.Expect(dog).ToContainTextAsync("this version");
            await Assertions.Expect(tab.Page.Locator("tr[data-path='labels.csv']")).ToContainTextAsync($"pets {parent.Version}");
            var hash = child.Files.Single(f => f.RelativePath == "images/dog.png").Hash;
            await Assertions.Expect(dog.Locator("td.hash")).ToHaveAttributeAsync("title", hash);
            await tab.Page.GetByLabel("Search files").FillAsync("images/");
            await Assertions.Expect(files).ToHaveCountAsync(2);
            await tab.ScreenshotAsync("dataset");

            // The parent in the graph leads to the parent's page.
            await graph.Locator($"g.node[data-version='{parent.Id}'] a").ClickAsync();
            await Assertions.Expect(tab.Page.Locator("h1")).ToHaveTextAsync($"pets {parent.Version}");
            await Assertions.Expect(tab.Page.Locator(".lineage-graph")).ToContainTextAsync("No parents");
            await Assertions.Expect(files).ToHaveCountAsync(2);

            // Versions are tasks, but not experiments: the experiments table leaves them out.
            await tab.GotoAsync("experiments");
            await Assertions.Expect(tab.Page.Locator("table.experiments tbody tr").First).ToBeVisibleAsync();
            await Assertions.Expect(tab.Page.Locator($"tr[data-task='{child.Id}']")).ToHaveCountAsync(0);
        }
        finally
        {
            folder.Delete(recursive: true);
            var found = await web.ApiAsync("projects.get_all", new JsonObject { ["name"] = $"^{project}$", ["search_hidden"] = true });
            foreach (var p in found["projects"]!.AsArray())
                await web.ApiAsync("projects.delete", new JsonObject { ["project"] = p!["id"]!.GetValue<string>(), ["force"] = true, ["delete_contents"] = true });
        }
    }

    private static string Write(string root, string name, Dictionary<string, string> files)
    {
        var folder = Path.Combine(root, name);
        foreach (var (path, text) in files)
        {
            var full = Path.Combine(folder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, text);
        }
        return folder;
    }
}
