using System.Security.Cryptography;
using System.Text;

namespace Slipway.Agent;

/// <summary>
/// Puts a task's code into a fresh directory: the literal script from <c>script.diff</c>, or the repository
/// checked out at its commit, tag or branch with the uncommitted diff applied. Repositories are cloned once
/// into a cache and each task gets a local clone of the cache, so a second task of the same repository
/// fetches only what is new.
/// </summary>
internal sealed class CodePreparer(AgentOptions options)
{
    /// <summary>Prepares the code in <paramref name="directory"/>; returns the directory the entry point runs in, and the commit checked out (null for a literal script).</summary>
    public async Task<(string WorkingDirectory, string? Commit)> PrepareAsync(TaskCode code, string directory, Action<string> log, CancellationToken ct)
    {
        Directory.CreateDirectory(directory);
        if (string.IsNullOrEmpty(code.Repository))
        {
            var codeDir = Path.Combine(directory, "code");
            Directory.CreateDirectory(codeDir);
            if (code.IsLiteralScript)
            {
                var file = Path.Combine(codeDir, Path.GetFileName(code.EntryPoint is { Length: > 0 } e && !e.Contains(' ', StringComparison.Ordinal) ? e : "script.py"));
                await File.WriteAllTextAsync(file, code.Diff, ct).ConfigureAwait(false);
            }
            return (codeDir, null);
        }

        var checkout = Path.Combine(directory, "repo");
        var cache = await UpdateCacheAsync(code.Repository, log, ct).ConfigureAwait(false);
        await GitAsync(["clone", "--quiet", "--no-checkout", cache, checkout], null, log, ct).ConfigureAwait(false);
        var target = code.Commit ?? (code.Tag is { } tag ? "tags/" + tag : code.Branch is { } branch ? "origin/" + StripRemote(branch) : "origin/HEAD");
        log($"checking out {code.Repository} at {target}\n");
        await GitAsync(["checkout", "--quiet", "--force", target], checkout, log, ct).ConfigureAwait(false);
        var commit = await ChildProcess.ReadAsync("git", ["rev-parse", "HEAD"], checkout, ct).ConfigureAwait(false);
        if (code.Diff is { Length: > 0 } diff)
        {
            var patch = Path.Combine(directory, "uncommitted.diff");
            await File.WriteAllTextAsync(patch, diff.EndsWith('\n') ? diff : diff + "\n", ct).ConfigureAwait(false);
            log("applying the uncommitted changes\n");
            await GitAsync(["apply", "--unidiff-zero", "--whitespace=nowarn", patch], checkout, log, ct).ConfigureAwait(false);
        }
        var workingDirectory = code.WorkingDirectory is { Length: > 0 } wd && wd != "." ? Path.GetFullPath(Path.Combine(checkout, wd)) : checkout;
        if (!workingDirectory.StartsWith(checkout, StringComparison.Ordinal))
            throw new InvalidOperationException($"the working directory '{code.WorkingDirectory}' is outside the repository");
        return (workingDirectory, commit);
    }

    private static string StripRemote(string branch) => branch.StartsWith("origin/", StringComparison.Ordinal) ? branch["origin/".Length..] : branch;

    /// <summary>Clones the repository into the cache, or fetches what is new; one process at a time per repository.</summary>
    private async Task<string> UpdateCacheAsync(string repository, Action<string> log, CancellationToken ct)
    {
        Directory.CreateDirectory(options.VcsCacheDirectory);
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(repository)))[..16];
        var cache = Path.Combine(options.VcsCacheDirectory, name + ".git");
        await using var held = await FileLock.AcquireAsync(cache + ".lock", ct).ConfigureAwait(false);
        if (Directory.Exists(cache))
        {
            await GitAsync(["fetch", "--quiet", "--prune", "--tags", "origin", "+refs/heads/*:refs/heads/*"], cache, log, ct).ConfigureAwait(false);
        }
        else
        {
            log($"cloning {repository}\n");
            var temp = cache + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
            await GitAsync(["clone", "--quiet", "--bare", repository, temp], null, log, ct).ConfigureAwait(false);
            await GitAsync(["config", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"], temp, log, ct).ConfigureAwait(false);
            Directory.Move(temp, cache);
        }
        return cache;
    }

    private static async Task GitAsync(string[] args, string? directory, Action<string> log, CancellationToken ct)
    {
        var code = await ChildProcess.RunAsync("git", args, directory, log, ct,
            new Dictionary<string, string> { ["GIT_TERMINAL_PROMPT"] = "0" }).ConfigureAwait(false);
        if (code != 0)
            throw new InvalidOperationException($"git {args[0]} failed (exit code {code})");
    }
}
