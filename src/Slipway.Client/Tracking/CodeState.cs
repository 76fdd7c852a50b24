using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client.Tracking;

/// <summary>
/// What code a run is: the entry project (found next to the entry assembly or in the working directory), and
/// when it is in a git repository, the remote, branch, commit and uncommitted diff, so an agent can rebuild the
/// exact state. Also the NuGet packages the entry assembly was built with, as the task's requirements.
/// </summary>
internal static class CodeState
{
    private const int MaxDiffChars = 4 << 20;

    public static JsonObject Script()
    {
        var project = FindProjectFile();
        var projectDir = project is null ? Environment.CurrentDirectory : Path.GetDirectoryName(project)!;
        var script = new JsonObject
        {
            ["binary"] = "dotnet",
            ["entry_point"] = project is null ? Assembly.GetEntryAssembly()?.GetName().Name + ".dll" : Path.GetFileName(project),
            ["working_dir"] = ".",
        };
        var root = Git(projectDir, "rev-parse", "--show-toplevel");
        if (root is null)
            return script;
        script["working_dir"] = Path.GetRelativePath(root, projectDir).Replace('\\', '/');
        script["version_num"] = Git(root, "rev-parse", "HEAD") ?? "";
        var branch = Git(root, "rev-parse", "--abbrev-ref", "HEAD");
        script["branch"] = branch is null or "HEAD" ? "" : branch;
        var remote = branch is null ? null : Git(root, "config", $"branch.{branch}.remote");
        script["repository"] = Git(root, "remote", "get-url", remote ?? "origin") ?? Git(root, "remote", "get-url", "origin") ?? "";
        var diff = Git(root, "diff", "HEAD", "--binary") ?? "";
        script["diff"] = diff.Length > MaxDiffChars ? diff[..MaxDiffChars] + "\n# diff truncated" : diff;
        return script;
    }

    /// <summary>The entry assembly's package references, from its deps.json, one <c>Name==Version</c> a line.</summary>
    public static string Packages()
    {
        var entry = Assembly.GetEntryAssembly();
        var deps = entry is null ? null : Path.Combine(AppContext.BaseDirectory, entry.GetName().Name + ".deps.json");
        if (deps is null || !File.Exists(deps))
            return "";
        try
        {
            var libraries = JsonNode.Parse(File.ReadAllText(deps))?["libraries"] as JsonObject ?? [];
            var lines = new StringBuilder($"# .NET {Environment.Version}\n");
            foreach (var (key, value) in libraries.OrderBy(l => l.Key, StringComparer.OrdinalIgnoreCase))
                if (value.Str("type") == "package" && key.Split('/') is [var name, var version])
                    lines.Append(name).Append("==").Append(version).Append('\n');
            return lines.ToString();
        }
        catch (JsonException)
        {
            return "";
        }
    }

    private static string? FindProjectFile()
    {
        var name = Assembly.GetEntryAssembly()?.GetName().Name;
        // bin/<Configuration>/<tfm>/ sits under the project folder when run with dotnet run or from a build.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidates = dir.GetFiles("*.csproj").Concat(dir.GetFiles("*.fsproj")).ToList();
            if (candidates.FirstOrDefault(f => Path.GetFileNameWithoutExtension(f.Name) == name) is { } match)
                return match.FullName;
            if (candidates.Count == 1 && dir.GetDirectories("bin").Length == 1)
                return candidates[0].FullName;
        }
        var local = Directory.GetFiles(Environment.CurrentDirectory, "*.csproj");
        return local.Length == 1 ? local[0] : null;
    }

    private static string? Git(string directory, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args)
                start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return null;
            }
            var text = output.GetAwaiter().GetResult();
            return process.ExitCode == 0 ? (args[0] == "diff" ? text : text.Trim()) : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git on this machine
        }
    }
}
