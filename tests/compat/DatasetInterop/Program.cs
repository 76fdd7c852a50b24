// The .NET half of the dataset interop check (tests/compat/dataset_interop.sh), run against a server reached
// through CLEARML_* variables:
//   write <dir>              a parent and a child version made with Slipway.Client  -> <dir>/ours.json
//   child-of <id> <dir>      a child (made here) of a version made by the Python SDK -> <dir>/ours-child.json
//   read <expected.json>     fetches the version named there and compares every file's SHA-256, and the changes
// Expectation files: {"id", "project", "name", "parent", "files": {path: sha256}, "added", "removed", "modified"}.
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Client;
using Slipway.Client.Datasets;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: DatasetInterop write <dir> | child-of <version id> <dir> | read <expected.json>");
    return 2;
}
using var client = SlipwayClient.FromEnvironment();
var project = Environment.GetEnvironmentVariable("COMPAT_PROJECT") ?? "interop";
try
{
    switch (args[0])
    {
        case "write":
            await WriteAsync(args[1]);
            break;
        case "child-of":
            await ChildOfAsync(args[1], args[2]);
            break;
        case "read":
            return await ReadAsync(args[1]);
        default:
            Console.Error.WriteLine($"unknown command {args[0]}");
            return 2;
    }
}
catch (SlipwayException e)
{
    Console.Error.WriteLine($"FAILED: {e.Message}");
    return 1;
}
return 0;

// A parent with a nested folder and a file larger than a chunk; a child that keeps, modifies, removes and adds files.
async Task WriteAsync(string dir)
{
    var parentFiles = new Dictionary<string, byte[]>(StringComparer.Ordinal)
    {
        ["keep.txt"] = "kept by the child\n"u8.ToArray(),
        ["modify.txt"] = "parent content\n"u8.ToArray(),
        ["remove.txt"] = "removed by the child\n"u8.ToArray(),
        ["nested/deeper/data.bin"] = Random(200_000, 1),
        ["nested/ünïcode name.txt"] = "a non-ASCII name\n"u8.ToArray(),
        ["big.bin"] = Random(3 << 20, 2),
        ["table.csv"] = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"{i},{i * i},{i % 7}\n"))),
    };
    var childFiles = new Dictionary<string, byte[]>(parentFiles, StringComparer.Ordinal)
    {
        ["modify.txt"] = "child content, not the same length\n"u8.ToArray(),
        ["nested/new.txt"] = "added by the child\n"u8.ToArray(),
        ["child-big.bin"] = Random((5 << 20) / 2, 3),
    };
    childFiles.Remove("remove.txt");
    var upload = new DatasetUploadOptions { ChunkSize = 1 << 20 };

    var parent = await client.Datasets.CreateAsync(project, "made-by-slipway");
    await parent.AddFilesAsync(Folder(Path.Combine(dir, "ours-parent"), parentFiles));
    await parent.UploadAsync(upload);
    await parent.FinalizeAsync();

    var child = await client.Datasets.CreateAsync(project, "made-by-slipway", new DatasetCreateOptions { Parents = [parent.Id] });
    await child.AddFilesAsync(Folder(Path.Combine(dir, "ours-child"), childFiles));
    child.RemoveFiles("remove.txt");
    await child.UploadAsync(upload);
    await child.FinalizeAsync();
    var chunks = child.Files.Where(f => f.SourceVersionId == child.Id).Select(f => f.ChunkName).Distinct().Count();
    Console.WriteLine($"made parent {parent.Id} ({parent.Version}) and child {child.Id} ({child.Version}, {chunks} chunks of its own)");
    Save(Path.Combine(dir, "ours-parent.json"), parent, null, parentFiles, [.. parentFiles.Keys], [], []);
    Save(Path.Combine(dir, "ours.json"), child, parent.Id, childFiles, ["nested/new.txt", "child-big.bin"], ["remove.txt"], ["modify.txt"]);
}

// A child of the SDK's version: keeps most, modifies one, removes one, adds one.
async Task ChildOfAsync(string parentId, string dir)
{
    var parent = await client.Datasets.GetAsync(parentId);
    var parentCopy = await parent.GetLocalCopyAsync();
    var files = Directory.EnumerateFiles(parentCopy.Path, "*", SearchOption.AllDirectories)
        .ToDictionary(f => Path.GetRelativePath(parentCopy.Path, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);
    var modified = files.Keys.Order(StringComparer.Ordinal).First();
    var removed = files.Keys.Order(StringComparer.Ordinal).Last();
    files[modified] = "modified by Slipway.Client\n"u8.ToArray();
    files.Remove(removed);
    files["from-slipway/added.bin"] = Random(1_500_000, 4);
    var child = await client.Datasets.CreateAsync(parent.Project, parent.Name, new DatasetCreateOptions { Parents = [parentId] });
    await child.AddFilesAsync(Folder(Path.Combine(dir, "ours-on-sdk"), files));
    child.RemoveFiles(removed);
    await child.UploadAsync(new DatasetUploadOptions { ChunkSize = 1 << 20 });
    await child.FinalizeAsync();
    Console.WriteLine($"made child {child.Id} ({child.Version}) of the SDK's {parentId}");
    Save(Path.Combine(dir, "ours-child.json"), child, parentId, files, ["from-slipway/added.bin"], [removed], [modified]);
}

async Task<int> ReadAsync(string expectedPath)
{
    var expected = JsonNode.Parse(File.ReadAllText(expectedPath))!.AsObject();
    var id = expected["id"]!.GetValue<string>();
    var failures = new List<string>();
    var version = await client.Datasets.GetAsync(id);
    if (!version.IsFinal)
        failures.Add($"status {version.Status}");
    var byName = await client.Datasets.GetAsync(expected["project"]!.GetValue<string>(), expected["name"]!.GetValue<string>(), expected["version"]?.GetValue<string>());
    if (byName.Id != id)
        failures.Add($"get by project/name/version found {byName.Id}");
    var files = expected["files"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<string>(), StringComparer.Ordinal);
    var copy = await client.Datasets.GetLocalCopyAsync(id);
    Compare("cached copy", copy.Path, files, failures);
    var target = Path.Combine(Path.GetTempPath(), "slipway-interop-copy-" + Guid.NewGuid().ToString("N")[..8]);
    try
    {
        var mutable = await client.Datasets.GetLocalCopyAsync(id, new LocalCopyOptions { CopyTo = target });
        if (!mutable.FromCache)
            failures.Add("the second get downloaded again");
        Compare("copy", target, files, failures);
    }
    finally
    {
        Directory.Delete(target, recursive: true);
    }
    if (expected["parent"]?.GetValue<string>() is { } parentId)
    {
        if (!version.Parents.SequenceEqual([parentId]))
            failures.Add($"parents [{string.Join(", ", version.Parents)}], expected [{parentId}]");
        var diff = await client.Datasets.DiffAsync(parentId, id);
        Same("added", diff.Added.Select(f => f.RelativePath), expected["added"]!, failures);
        Same("removed", diff.Removed.Select(f => f.RelativePath), expected["removed"]!, failures);
        Same("modified", diff.Modified.Select(f => f.After.RelativePath), expected["modified"]!, failures);
        var inherited = version.Files.Count(f => f.SourceVersionId != id);
        Console.WriteLine($"{inherited} of {version.Files.Count} files are read from ancestors' chunks");
    }
    foreach (var f in failures)
        Console.Error.WriteLine($"CHECK FAILED: {f}");
    Console.WriteLine(failures.Count == 0 ? $"READ OK {id}: {files.Count} files, {copy.BytesDownloaded} bytes downloaded" : $"READ FAILED {id}");
    return failures.Count == 0 ? 0 : 1;
}

static void Compare(string what, string folder, Dictionary<string, string> expected, List<string> failures)
{
    var actual = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(
        f => Path.GetRelativePath(folder, f).Replace('\\', '/'), f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))), StringComparer.Ordinal);
    foreach (var (path, hash) in expected)
    {
        if (!actual.TryGetValue(path, out var got))
            failures.Add($"{what}: '{path}' is missing");
        else if (got != hash)
            failures.Add($"{what}: '{path}' has other bytes");
    }
    foreach (var extra in actual.Keys.Where(p => !expected.ContainsKey(p)))
        failures.Add($"{what}: unexpected file '{extra}'");
}

static void Same(string what, IEnumerable<string> actual, JsonNode expected, List<string> failures)
{
    var a = actual.Order(StringComparer.Ordinal).ToList();
    var e = expected.AsArray().Select(v => v!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
    if (!a.SequenceEqual(e))
        failures.Add($"{what}: [{string.Join(", ", a)}], expected [{string.Join(", ", e)}]");
}

static byte[] Random(int size, int seed)
{
    var bytes = new byte[size];
    new Random(seed).NextBytes(bytes);
    return bytes;
}

static string Folder(string root, Dictionary<string, byte[]> files)
{
    foreach (var (path, bytes) in files)
    {
        var full = Path.Combine(root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, bytes);
    }
    return root;
}

static void Save(string path, DatasetVersion version, string? parent, Dictionary<string, byte[]> files, string[] added, string[] removed, string[] modified)
{
    var json = new JsonObject
    {
        ["id"] = version.Id,
        ["project"] = version.Project,
        ["name"] = version.Name,
        ["version"] = version.Version,
        ["parent"] = parent,
        ["files"] = new JsonObject(files.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Convert.ToHexStringLower(SHA256.HashData(p.Value))))),
        ["added"] = new JsonArray(added.Select(a => (JsonNode?)a).ToArray()),
        ["removed"] = new JsonArray(removed.Select(a => (JsonNode?)a).ToArray()),
        ["modified"] = new JsonArray(modified.Select(a => (JsonNode?)a).ToArray()),
    };
    File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
