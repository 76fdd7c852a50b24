using System.Diagnostics;
using System.Runtime.InteropServices;
using Slipway.Client;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// `slipway dataset get` as a user runs it (the command published as the README says: Release, ReadyToRun, a process
/// of its own) against the peer a ClearML user
/// would otherwise run, the official SDK's <c>Dataset.get(...).get_local_copy()</c> (its public source under Debian's
/// Python, as tests/compat runs it), and <c>cp -r</c> of the same bytes, on two versions served by one in-process
/// server: 10,000 files in 1 GiB, and 100 files of 10 MiB. Every step gets a fresh cache folder; the steps rotate their
/// order each round; CPU is counted per step for the child (getrusage of waited-for children) and for this process
/// (the server's side).
/// </summary>
public static class DatasetGetSdkScenario
{
    private const string SdkSource = "/opt/clearml-sdk";
    private const string PathlibShim = "/opt/pyshim";

    private sealed record Step(string Name, string[] Command);

    private sealed record Sample(TimeSpan Wall, TimeSpan ChildCpu, TimeSpan ServerCpu);

    public static async Task RunAsync(BenchContext ctx)
    {
        if (!File.Exists(Path.Combine(SdkSource, "clearml", "__init__.py")) || !File.Exists(Path.Combine(PathlibShim, "pathlib2.py")))
            throw new InvalidOperationException($"the official SDK is expected in {SdkSource} with the pathlib2 shim in {PathlibShim}: see tests/compat/README.md");
        var slipway = await PublishedCliAsync(ctx);
        var rounds = ctx.Quick ? 1 : 3;
        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        using var client = new SlipwayClient(server.AdminClientOptions());
        var work = Path.Combine(server.Server.Options.DataDir, "bench-dataset-sdk");
        var home = Path.Combine(work, "home"); // no clearml.conf: both clients read the CLEARML_* variables only
        Directory.CreateDirectory(home);
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["CLEARML_API_HOST"] = server.Server.ApiUrl.ToString().TrimEnd('/'),
            ["CLEARML_WEB_HOST"] = server.Server.WebUrl.ToString().TrimEnd('/'),
            ["CLEARML_FILES_HOST"] = server.Server.FilesUrl.ToString().TrimEnd('/'),
            ["CLEARML_API_ACCESS_KEY"] = client.Options.AccessKey!,
            ["CLEARML_API_SECRET_KEY"] = client.Options.SecretKey!,
            ["PYTHONPATH"] = $"{SdkSource}:{PathlibShim}",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };

        (int Files, long Bytes)[] shapes = ctx.Quick ? [(500, 64L << 20), (10, 50L << 20)] : [(10_000, 1L << 30), (100, 1L << 30)];
        foreach (var (fileCount, totalBytes) in shapes)
        {
            var label = $"{Fmt.N(fileCount)} files, {Fmt.Mb(totalBytes)}";
            var source = Path.Combine(work, $"source-{fileCount}");
            Console.WriteLine($"-- {label}: writing the files and a version");
            DatasetGetScenario.WriteSource(source, DatasetGetScenario.Sizes(fileCount, totalBytes));
            var version = await client.Datasets.CreateAsync("bench", $"dataset-get-sdk-{fileCount}");
            await version.AddFilesAsync(source);
            await version.UploadAsync();
            await version.FinalizeAsync();

            Step[] steps =
            [
                new("slipway", [slipway, "dataset", "get", "--id", version.Id, "--cache-dir", "{dir}"]),
                new("slipway --sizes-only", [slipway, "dataset", "get", "--id", version.Id, "--cache-dir", "{dir}", "--sizes-only"]),
                new("sdk", ["/usr/bin/python3", "-c", "import os, sys; from clearml import Dataset; print(Dataset.get(dataset_id=sys.argv[1]).get_local_copy())", version.Id]),
                new("cp -r", ["cp", "-r", source, "{dir}"]),
            ];
            var samples = steps.ToDictionary(s => s.Name, _ => new List<Sample>());
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < steps.Length; k++)
                {
                    var step = steps[(k + round) % steps.Length];
                    var dir = Path.Combine(work, $"out-{fileCount}-{round}-{step.Name.Replace(' ', '_').Replace("-", "", StringComparison.Ordinal)}");
                    var env = new Dictionary<string, string>(environment) { ["CLEARML_CACHE_DIR"] = dir };
                    DatasetGetScenario.Sync();
                    var sample = await RunAsync(step.Command.Select(a => a.Replace("{dir}", dir, StringComparison.Ordinal)).ToArray(), env);
                    var (files, bytes) = Count(dir);
                    if (files < fileCount || bytes < totalBytes)
                        throw new InvalidOperationException($"{step.Name} left {files} files, {bytes} bytes in {dir}; expected {fileCount}, {totalBytes}");
                    samples[step.Name].Add(sample);
                    Console.WriteLine($"   round {round + 1} {step.Name}: {sample.Wall.TotalSeconds:0.00} s, CPU {sample.ChildCpu.TotalSeconds:0.00} s + server {sample.ServerCpu.TotalSeconds:0.00} s");
                    Directory.Delete(dir, true);
                }
            }
            string Speed(TimeSpan t) => $"{totalBytes / t.TotalSeconds / (1 << 20):N0} MiB/s";
            TimeSpan Median(string name, Func<Sample, TimeSpan> pick) => samples[name].Select(pick).Order().ElementAt(samples[name].Count / 2);
            string Cpu(string name) => $"{Median(name, s => s.ChildCpu).TotalSeconds:0.0} s + server {Median(name, s => s.ServerCpu).TotalSeconds:0.0} s";
            double Ratio(string over, string under) =>
                samples[over].Zip(samples[under], (a, b) => a.Wall / b.Wall).Order().ElementAt(rounds / 2);
            var sdk = Median("sdk", s => s.Wall);
            var plain = Median("cp -r", s => s.Wall);
            var checkedRatio = Ratio("sdk", "slipway");
            var sizesRatio = Ratio("sdk", "slipway --sizes-only");
            foreach (var (name, ratio, target, met) in new[]
            {
                ("slipway", checkedRatio, "≥ 2× the SDK", checkedRatio >= 2),
                ("slipway --sizes-only", sizesRatio, "≥ the SDK, by more than with hashes", sizesRatio >= 1 && sizesRatio >= checkedRatio),
            })
            {
                var wall = Median(name, s => s.Wall);
                ctx.Results.Add(new Row("dataset-get-sdk", "local", $"`{name} dataset get` of {label}, fresh cache ({(name == "slipway" ? "SHA-256 checked" : "sizes checked")})",
                    $"{Speed(wall)} ({wall.TotalSeconds:0.00} s; CPU {Cpu(name)})", $"{Speed(sdk)} ({sdk.TotalSeconds:0.00} s; CPU {Cpu("sdk")}; official SDK get_local_copy)",
                    $"{ratio:0.00}×", target, met, $"cp -r: {Speed(plain)} ({plain.TotalSeconds:0.00} s; CPU {Cpu("cp -r")}); slipway at {Fmt.Pct(Ratio("cp -r", name))} of cp -r"));
            }
            ctx.Results.Note($"dataset-get-sdk ({label}): {rounds} round(s), order rotated each round; wall per round: " +
                string.Join("; ", steps.Select(s => $"{s.Name} {string.Join(" / ", samples[s.Name].Select(x => $"{x.Wall.TotalSeconds:0.00}"))} s")));
            Directory.Delete(source, true);
        }
        Directory.Delete(work, true);
    }

    /// <summary>The command as the README publishes it (<c>dotnet publish src/Slipway -c Release -r linux-x64</c>), into the bench's own folder.</summary>
    internal static async Task<string> PublishedCliAsync(BenchContext ctx)
    {
        var project = Path.Combine(AgentScenario.RepoRoot(), "src", "Slipway");
        var output = Path.Combine(project, "bin", "Release", "published-linux-x64");
        var executable = Path.Combine(output, "slipway");
        if (!ctx.NoBuild || !File.Exists(executable))
        {
            Console.WriteLine("-- publishing src/Slipway (Release, linux-x64, ReadyToRun)");
            using var publish = Process.Start("dotnet", ["publish", project, "-c", "Release", "-r", "linux-x64", "-o", output, "--nologo", "-v", "q"])!;
            await publish.WaitForExitAsync();
            if (publish.ExitCode != 0)
                throw new InvalidOperationException("dotnet publish src/Slipway failed");
        }
        return executable;
    }

    private static async Task<Sample> RunAsync(string[] command, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command[1..])
            info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        var (children, self) = (Usage(ChildrenWho), Usage(SelfWho));
        var start = Stopwatch.GetTimestamp();
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var wall = Stopwatch.GetElapsedTime(start);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', command)} exited with {process.ExitCode}: {await error}{await output}");
        return new Sample(wall, Usage(ChildrenWho) - children, Usage(SelfWho) - self);
    }

    private static (int Files, long Bytes) Count(string dir)
    {
        var files = new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).ToList();
        return (files.Count, files.Sum(f => f.Length));
    }

    private const int SelfWho = 0;
    private const int ChildrenWho = -1;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public TimeVal User;
        public TimeVal System;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 14)]
        public long[] Rest;
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRUsage(int who, out RUsage usage);

    /// <summary>User plus system CPU of this process, or of its waited-for children, so far.</summary>
    private static TimeSpan Usage(int who)
    {
        if (GetRUsage(who, out var usage) != 0)
            throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        static TimeSpan Of(TimeVal t) => TimeSpan.FromSeconds(t.Seconds) + TimeSpan.FromMicroseconds(t.Microseconds);
        return Of(usage.User) + Of(usage.System);
    }
}
