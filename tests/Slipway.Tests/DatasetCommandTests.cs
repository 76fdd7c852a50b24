using System.Security.Cryptography;
using Slipway.Tests.Infrastructure;

namespace Slipway.Tests;

/// <summary>The clearml-data style workflow, each step its own command (as separate processes would run them).</summary>
public sealed class DatasetCommandTests(CliServer server) : IClassFixture<CliServer>
{
    private static string Write(string folder, string relative, byte[] bytes)
    {
        var path = Path.Combine(folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public async Task Create_add_upload_finalize_then_get_and_a_child_with_changes()
    {
        var project = CliServer.Unique("data");
        var source = server.NewFolder();
        var a = RandomNumberGenerator.GetBytes(200_000);
        var b = RandomNumberGenerator.GetBytes(1_000);
        Write(source, "images/a.bin", a);
        Write(source, "images/sub/b.bin", b);
        Write(source, "notes.tmp", [1, 2, 3]);

        var id = (await server.RunAsync("dataset", "create", "--project", project, "--name", "images")).Ok().Out.Trim();
        Assert.Matches("^[0-9a-f]{32}$", id);
        var added = (await server.RunAsync("dataset", "add", "--id", id, "--files", source, "--json")).Json();
        Assert.Equal(3, added["added"]!.GetValue<int>());
        (await server.RunAsync("dataset", "remove", "--id", id, "--files", "*.tmp")).Ok();
        var upload = (await server.RunAsync("dataset", "upload", "--id", id, "--chunk-size", "1")).Ok();
        Assert.Contains("2 file(s) uploaded", upload.Out, StringComparison.Ordinal);
        Assert.Equal("", upload.Error); // no bar when stderr is not a terminal
        (await server.RunAsync("dataset", "finalize", "--id", id)).Ok();

        var copy = Path.Combine(server.NewFolder(), "copy");
        var got = (await server.RunAsync("dataset", "get", "--project", project, "--name", "images", "--copy", copy, "--cache-dir", server.NewFolder())).Ok();
        Assert.Equal(copy, got.Out.Trim());
        Assert.Equal(a, await File.ReadAllBytesAsync(Path.Combine(copy, "images", "a.bin")));
        Assert.Equal(b, await File.ReadAllBytesAsync(Path.Combine(copy, "images", "sub", "b.bin")));
        Assert.False(File.Exists(Path.Combine(copy, "notes.tmp")));

        // A child version: one file changed, one removed, one added.
        var child = (await server.RunAsync("dataset", "create", "--project", project, "--name", "images", "--parents", id, "--json")).Json()["id"]!.GetValue<string>();
        var changed = RandomNumberGenerator.GetBytes(5_000);
        var next = server.NewFolder();
        Write(next, "images/a.bin", changed);
        Write(next, "extra.txt", "new"u8.ToArray());
        (await server.RunAsync("dataset", "add", "--id", child, "--files", Path.Combine(next, "images"), "--dataset-folder", "images")).Ok();
        (await server.RunAsync("dataset", "add", "--id", child, "--files", Path.Combine(next, "extra.txt"))).Ok();
        (await server.RunAsync("dataset", "remove", "--id", child, "--files", "images/sub/b.bin")).Ok();
        var open = (await server.RunAsync("dataset", "show", "--id", child, "--json")).Json();
        Assert.Equal(2, open["pending"]!.GetValue<int>());
        Assert.False(open["final"]!.GetValue<bool>());
        (await server.RunAsync("dataset", "upload", "--id", child)).Ok();
        (await server.RunAsync("dataset", "finalize", "--id", child)).Ok();

        var diff = (await server.RunAsync("dataset", "diff", "--from", id, "--to", child, "--json")).Json();
        Assert.Equal("extra.txt", Assert.Single(diff["added"]!.AsArray())!["path"]!.GetValue<string>());
        Assert.Equal("images/sub/b.bin", Assert.Single(diff["removed"]!.AsArray())!["path"]!.GetValue<string>());
        Assert.Equal("images/a.bin", Assert.Single(diff["modified"]!.AsArray())!["after"]!["path"]!.GetValue<string>());

        var latest = (await server.RunAsync("dataset", "get", "--project", project, "--name", "images", "--cache-dir", server.NewFolder(), "--sizes-only", "--json")).Json();
        Assert.Equal(child, latest["id"]!.GetValue<string>());
        var folder = latest["path"]!.GetValue<string>();
        Assert.Equal(changed, await File.ReadAllBytesAsync(Path.Combine(folder, "images", "a.bin")));
        Assert.Equal("new"u8.ToArray(), await File.ReadAllBytesAsync(Path.Combine(folder, "extra.txt")));
        Assert.False(File.Exists(Path.Combine(folder, "images", "sub", "b.bin")));

        var list = (await server.RunAsync("dataset", "list", "--project", project)).Ok().Out;
        var row = Assert.Single(list.Split('\n'), l => l.Contains(child, StringComparison.Ordinal));
        Assert.Contains("images", row, StringComparison.Ordinal);
        Assert.Contains("2", row, StringComparison.Ordinal);
        var versions = (await server.RunAsync("dataset", "list", "--project", project, "--json")).Json()[0]!["versions"]!.AsArray();
        Assert.Equal([id, child], versions.Select(v => v!["id"]!.GetValue<string>()));
        var shown = (await server.RunAsync("dataset", "show", "--id", child, "--files")).Ok().Out;
        Assert.Contains("extra.txt", shown, StringComparison.Ordinal);
        Assert.Contains(id, shown, StringComparison.Ordinal); // the parent
    }

    /// <summary>A finalized version holding one file, made with the commands.</summary>
    private async Task<string> VersionAsync(string project, string name, string? parent = null, params string[] tags)
    {
        var folder = server.NewFolder();
        Write(folder, name + ".bin", RandomNumberGenerator.GetBytes(100));
        List<string> args = ["dataset", "create", "--project", project, "--name", name];
        if (parent is not null)
            args.AddRange(["--parents", parent]);
        if (tags.Length > 0)
            args.AddRange(["--tags", .. tags]);
        var id = (await server.RunAsync([.. args])).Ok().Out.Trim();
        (await server.RunAsync("dataset", "add", "--id", id, "--files", folder)).Ok();
        (await server.RunAsync("dataset", "upload", "--id", id)).Ok();
        (await server.RunAsync("dataset", "finalize", "--id", id)).Ok();
        return id;
    }

    [Fact]
    public async Task Search_finds_datasets_by_name_pattern_project_and_tag()
    {
        var project = CliServer.Unique("search");
        await VersionAsync(project, "cats-train", null, "clean");
        var dogs = await VersionAsync(project, "dogs-train");
        await VersionAsync(project, "cats-test");

        static List<string> Names(CliRun run) => run.Json().AsArray().Select(d => d!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["cats-test", "cats-train"], Names(await server.RunAsync("dataset", "search", "--project", project, "--name", "^CATS", "--json")));
        Assert.Equal(["cats-train"], Names(await server.RunAsync("dataset", "search", "--project", project, "--tag", "clean", "--json")));
        var table = (await server.RunAsync("dataset", "search", "--project", project, "--name", "dogs")).Ok().Out;
        Assert.Contains(dogs, table, StringComparison.Ordinal);
        Assert.DoesNotContain("cats", table, StringComparison.Ordinal);
        Assert.Equal(2, (await server.RunAsync("dataset", "search", "--name", "(")).Exit);
    }

    [Fact]
    public async Task Delete_refuses_a_version_others_start_from_and_deletes_versions_and_then_the_whole_dataset()
    {
        var project = CliServer.Unique("delete");
        var first = await VersionAsync(project, "images");
        var second = await VersionAsync(project, "images", first);

        var refused = await server.RunAsync("dataset", "delete", "--id", first);
        Assert.Equal(1, refused.Exit);
        Assert.Contains($"starts from {first}", refused.Error, StringComparison.Ordinal);
        Assert.Equal(2, (await server.RunAsync("dataset", "list", "--project", project, "--json")).Json()[0]!["versions"]!.AsArray().Count);

        var deleted = (await server.RunAsync("dataset", "delete", "--id", second, "--json")).Json();
        Assert.Equal(second, Assert.Single(deleted.AsArray())!["id"]!.GetValue<string>());
        Assert.Equal([first], (await server.RunAsync("dataset", "list", "--project", project, "--json")).Json()[0]!["versions"]!.AsArray().Select(v => v!["id"]!.GetValue<string>()));

        (await server.RunAsync("dataset", "delete", "--project", project, "--name", "images", "--entire-dataset")).Ok();
        Assert.Empty((await server.RunAsync("dataset", "list", "--project", project, "--json")).Json().AsArray());
        Assert.Equal(2, (await server.RunAsync("dataset", "delete", "--id", first, "--entire-dataset")).Exit);
    }

    [Fact]
    public async Task Sync_makes_a_new_version_match_a_folder_and_squash_merges_versions_without_parents()
    {
        var project = CliServer.Unique("sync");
        var folder = server.NewFolder();
        var a = RandomNumberGenerator.GetBytes(3_000);
        Write(folder, "a.bin", a);
        Write(folder, "sub/b.bin", RandomNumberGenerator.GetBytes(2_000));
        var first = (await server.RunAsync("dataset", "sync", "--project", project, "--name", "set", "--folder", folder, "--json")).Json();
        Assert.Equal(2, first["added"]!.GetValue<int>());
        Assert.True(first["final"]!.GetValue<bool>());
        var firstId = first["id"]!.GetValue<string>();

        // The folder changes: b removed, c added, a rewritten. The new version starts from the latest one.
        File.Delete(Path.Combine(folder, "sub", "b.bin"));
        var c = RandomNumberGenerator.GetBytes(1_000);
        Write(folder, "c.bin", c);
        var a2 = RandomNumberGenerator.GetBytes(4_000);
        Write(folder, "a.bin", a2);
        var second = await server.RunAsync("dataset", "sync", "--project", project, "--name", "set", "--folder", folder);
        var secondId = second.Ok().Out.Trim();
        Assert.Contains("1 added, 1 modified, 1 removed, 0 unchanged", second.Error, StringComparison.Ordinal);
        var shown = (await server.RunAsync("dataset", "show", "--id", secondId, "--files", "--json")).Json();
        Assert.Equal([firstId], shown["parents"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(["a.bin", "c.bin"], shown["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>()));

        // An unchanged folder synced into an open version under a dataset folder: only that folder is touched.
        var open = (await server.RunAsync("dataset", "create", "--project", project, "--name", "set", "--parents", secondId)).Ok().Out.Trim();
        var images = server.NewFolder();
        Write(images, "x.png", [1, 2, 3]);
        var third = (await server.RunAsync("dataset", "sync", "--id", open, "--folder", images, "--dataset-folder", "images", "--skip-close", "--json")).Json();
        Assert.Equal((1, 0, false), (third["added"]!.GetValue<int>(), third["removed"]!.GetValue<int>(), third["final"]!.GetValue<bool>()));
        Assert.Equal(3, third["file_count"]!.GetValue<int>());
        (await server.RunAsync("dataset", "upload", "--id", open)).Ok();
        (await server.RunAsync("dataset", "finalize", "--id", open)).Ok();

        // Squash the first and the third: the later one's a.bin wins, b.bin comes from the first, and no parents remain.
        var squashed = (await server.RunAsync("dataset", "squash", "--ids", firstId, open, "--name", "set-squashed", "--cache-dir", server.NewFolder(), "--json")).Json();
        Assert.Empty(squashed["parents"]!.AsArray());
        Assert.Equal(4, squashed["file_count"]!.GetValue<int>());
        var got = (await server.RunAsync("dataset", "get", "--id", squashed["id"]!.GetValue<string>(), "--cache-dir", server.NewFolder())).Ok().Out.Trim();
        Assert.Equal(a2, await File.ReadAllBytesAsync(Path.Combine(got, "a.bin")));
        Assert.Equal(c, await File.ReadAllBytesAsync(Path.Combine(got, "c.bin")));
        Assert.True(File.Exists(Path.Combine(got, "sub", "b.bin")));
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(Path.Combine(got, "images", "x.png")));
        Assert.Equal(project, squashed["project"]!.GetValue<string>());

        Assert.Equal(2, (await server.RunAsync("dataset", "sync", "--folder", folder)).Exit);
        Assert.Equal(2, (await server.RunAsync("dataset", "sync", "--id", open, "--project", project, "--name", "set", "--folder", folder)).Exit);
        Assert.Contains("no folder", (await server.RunAsync("dataset", "sync", "--project", project, "--name", "set", "--folder", Path.Combine(folder, "missing"))).Error,
            StringComparison.Ordinal);
        var refused = await server.RunAsync("dataset", "sync", "--id", open, "--folder", folder);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("it is completed", refused.Error, StringComparison.Ordinal);
        Assert.Contains("at least two", (await server.RunAsync("dataset", "squash", "--ids", firstId)).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mistakes_get_clear_errors_and_exit_codes()
    {
        var project = CliServer.Unique("data-errors");
        var id = (await server.RunAsync("dataset", "create", "--project", project, "--name", "d")).Ok().Out.Trim();

        var missing = await server.RunAsync("dataset", "add", "--id", id, "--files", "/nonexistent/file");
        Assert.Equal(1, missing.Exit);
        Assert.Contains("no such file or folder", missing.Error, StringComparison.Ordinal);

        var nothing = await server.RunAsync("dataset", "remove", "--id", id, "--files", "*.none");
        Assert.Equal(1, nothing.Exit);
        Assert.Contains("no file", nothing.Error, StringComparison.Ordinal);

        var file = Write(server.NewFolder(), "x.txt", [1]);
        (await server.RunAsync("dataset", "add", "--id", id, "--files", file)).Ok();
        var early = await server.RunAsync("dataset", "finalize", "--id", id);
        Assert.Equal(1, early.Exit);
        Assert.Contains("not uploaded", early.Error, StringComparison.Ordinal);

        var open = await server.RunAsync("dataset", "get", "--id", id);
        Assert.Equal(1, open.Exit);
        Assert.Contains("not finalized", open.Error, StringComparison.Ordinal);

        Assert.Equal(2, (await server.RunAsync("dataset", "get", "--id", id, "--project", project)).Exit);
        Assert.Equal(2, (await server.RunAsync("dataset", "get", "--project", project)).Exit);
        Assert.Equal(2, (await server.RunAsync("dataset", "create", "--name", "x")).Exit);
        Assert.Equal(1, (await server.RunAsync("dataset", "show", "--id", "no-such-version")).Exit);
    }
}
