using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Slipway.Client;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// `slipway agent` (the Release executable, a child process) against an in-process server:
/// enqueue → task process started over 200 trivial shell tasks run one after another (the agent idle in its
/// long poll each time; the task writes bash's $EPOCHREALTIME as its first act); a Python environment built
/// from requirements (a wheel made here, installed with --no-index) vs the same requirements again (cache
/// hit); and the agent's own CPU time and RSS from /proc while a task sleeps.
/// </summary>
public static partial class AgentScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var dll = await ReleaseCliAsync(ctx);

        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        using var client = new SlipwayClient(server.AdminClientOptions());
        await client.Queues.CreateAsync("bench");
        var scratch = Path.Combine(Path.GetTempPath(), "slipway-bench-agent-" + Guid.NewGuid().ToString("N")[..8]);
        var wheels = Path.Combine(scratch, "wheels");
        WriteWheel(wheels, "slipwaybench", "1.0");
        var marks = Path.Combine(scratch, "marks");
        Directory.CreateDirectory(marks);

        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "agent", "--queue", "bench", "--work-dir", Path.Combine(scratch, "work"), "--python", "/usr/bin/python3",
                     "--pip-arg=--no-index", $"--pip-arg=--find-links={wheels}" })
            psi.ArgumentList.Add(a);
        psi.Environment["CLEARML_API_HOST"] = server.ApiUrl.ToString().TrimEnd('/');
        psi.Environment["CLEARML_WEB_HOST"] = server.Server.WebUrl.ToString().TrimEnd('/');
        psi.Environment["CLEARML_FILES_HOST"] = server.Server.FilesUrl.ToString().TrimEnd('/');
        psi.Environment["CLEARML_API_ACCESS_KEY"] = client.Options.AccessKey;
        psi.Environment["CLEARML_API_SECRET_KEY"] = client.Options.SecretKey;
        using var agent = Process.Start(psi)!;
        agent.OutputDataReceived += (_, _) => { };
        agent.ErrorDataReceived += (_, _) => { };
        agent.BeginOutputReadLine();
        agent.BeginErrorReadLine();
        try
        {
            // Warm-up: the agent's first task (JIT, first git-less code path) is not counted.
            var tasks = ctx.Quick ? 20 : 200;
            await RunShellAsync(client, marks, "warmup");
            var latencies = new List<double>();
            for (var i = 0; i < tasks; i++)
                latencies.Add(await RunShellAsync(client, marks, $"t{i}"));
            latencies.Sort();
            double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
            Console.WriteLine($"   enqueue → started: p50 {P(0.5):0.0} ms, p99 {P(0.99):0.0} ms, max {latencies[^1]:0.0} ms over {tasks}");
            ctx.Results.Add(new Row("agent", "SQLite", $"enqueue → task process started, p50 over {tasks} shell tasks (one slot, idle agent)",
                Fmt.Ms(P(0.5)), "-", "-", "< 50 ms", P(0.5) < 50, $"p99 {Fmt.Ms(P(0.99))}, max {Fmt.Ms(latencies[^1])}"));
            ctx.Results.Add(new Row("agent", "SQLite", $"enqueue → task process started, p99 over {tasks}", Fmt.Ms(P(0.99)), "-", "-", "-", null));

            // Python environments: a miss, then a hit with the same requirements.
            var miss = await PythonEnvMsAsync(client, "py-miss");
            var hit = await PythonEnvMsAsync(client, "py-hit");
            Console.WriteLine($"   Python environment: first (built) {miss.Ms} ms, second (same requirements) {hit.Ms} ms ({hit.How})");
            ctx.Results.Add(new Row("agent", "SQLite", "Python environment ready, second task with the same requirements (cache hit)",
                Fmt.Ms(hit.Ms), Fmt.Ms(miss.Ms) + " (first task: venv + pip install, " + miss.How + ")", Fmt.Ratio(hit.Ms / Math.Max(1, miss.Ms)), "< 1 s", hit.Ms < 1000 && hit.How == "cached"));

            // Overhead while a task runs.
            var sleeper = await CreateShellAsync(client, "sleeper", "sleep 25\n");
            await client.Tasks.EnqueueAsync(sleeper, "bench");
            while ((await client.Tasks.GetAsync(sleeper)).Status != "in_progress")
                await Task.Delay(50);
            await Task.Delay(TimeSpan.FromSeconds(3));
            var window = TimeSpan.FromSeconds(ctx.Quick ? 5 : 15);
            var cpu0 = CpuSeconds(agent.Id);
            var clock = Stopwatch.StartNew();
            await Task.Delay(window);
            var cpu = (CpuSeconds(agent.Id) - cpu0) / clock.Elapsed.TotalSeconds;
            var rss = StatusBytes(agent.Id, "VmRSS:");
            Console.WriteLine($"   agent while a task sleeps: {cpu * 100:0.00} % of one core, RSS {Fmt.Mb(rss)}");
            ctx.Results.Add(new Row("agent", "SQLite", $"agent CPU while a task runs ({window.TotalSeconds:0} s window, utime+stime from /proc)",
                Fmt.Pct(cpu) + " of one core", "-", "-", "< 1 %", cpu < 0.01));
            ctx.Results.Add(new Row("agent", "SQLite", "agent resident memory (VmRSS) while a task runs", Fmt.Mb(rss), "-", "-", "< 100 MB", rss < 100e6));
            await client.Tasks.AbortAsync(sleeper);
        }
        finally
        {
            if (!agent.HasExited)
                agent.Kill(entireProcessTree: true);
            await agent.WaitForExitAsync();
            BenchServer.TryDelete(scratch);
        }
    }

    private static async Task<string> CreateShellAsync(SlipwayClient client, string name, string script)
    {
        var data = await client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = name, ["type"] = "training",
            ["script"] = new JsonObject { ["binary"] = "bash", ["entry_point"] = "task.sh", ["diff"] = script },
        });
        return data["id"]!.GetValue<string>();
    }

    /// <summary>Creates a task, enqueues it (the clock starts just before the call), and waits for it to complete; returns enqueue → started in ms.</summary>
    private static async Task<double> RunShellAsync(SlipwayClient client, string marks, string name)
    {
        var id = await CreateShellAsync(client, name, $"echo $EPOCHREALTIME > {marks}/$CLEARML_TASK_ID\n");
        var enqueued = (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;
        await client.Tasks.EnqueueAsync(id, "bench");
        var mark = Path.Combine(marks, id);
        while (true)
        {
            var task = await client.Tasks.GetAsync(id);
            if (task.IsFinished)
            {
                if (task.Status != "completed")
                    throw new InvalidOperationException($"task {name} ended {task.Status}: {task.StatusReason}");
                break;
            }
            await Task.Delay(5);
        }
        var started = double.Parse(File.ReadAllText(mark).Trim(), CultureInfo.InvariantCulture) * 1000;
        return started - enqueued;
    }

    private static async Task<(double Ms, string How)> PythonEnvMsAsync(SlipwayClient client, string name)
    {
        var data = await client.CallAsync("tasks.create", new JsonObject
        {
            ["name"] = name, ["type"] = "training",
            ["script"] = new JsonObject
            {
                ["binary"] = "python3", ["entry_point"] = "main.py", ["diff"] = "import slipwaybench\nprint('ok')\n",
                ["requirements"] = new JsonObject { ["pip"] = "slipwaybench==1.0\n" },
            },
        });
        var id = data["id"]!.GetValue<string>();
        await client.Tasks.EnqueueAsync(id, "bench");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var task = await client.Tasks.WaitAsync(id, TimeSpan.FromMilliseconds(50), timeout.Token);
        var console = new StringBuilder();
        await foreach (var entry in client.Tasks.GetConsoleAsync(id))
            console.Append(entry.Message);
        if (task.Status != "completed")
            throw new InvalidOperationException($"{name} ended {task.Status}: {task.StatusReason}\n{console}");
        var match = EnvReady().Match(console.ToString());
        if (!match.Success)
            throw new InvalidOperationException($"{name}: no 'environment ready' line in its console:\n{console}");
        return (double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), match.Groups[2].Value);
    }

    [GeneratedRegex(@"Python environment ready in ([\d.]+) ms \((\w+)")]
    private static partial Regex EnvReady();

    private static void WriteWheel(string directory, string name, string version)
    {
        Directory.CreateDirectory(directory);
        using var zip = ZipFile.Open(Path.Combine(directory, $"{name}-{version}-py3-none-any.whl"), ZipArchiveMode.Create);
        void Add(string entry, string text)
        {
            using var w = new StreamWriter(zip.CreateEntry(entry).Open());
            w.Write(text);
        }
        var info = $"{name}-{version}.dist-info";
        Add($"{name}/__init__.py", "VALUE = 1\n");
        Add($"{info}/METADATA", $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        Add($"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: slipway-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
        Add($"{info}/RECORD", $"{name}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n");
    }

    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
        return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private static double StatusBytes(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The published command's Release build (<c>slipway.dll</c>), built first unless <c>--no-build</c>.</summary>
    internal static async Task<string> ReleaseCliAsync(BenchContext ctx)
    {
        var root = RepoRoot();
        var dll = Path.Combine(root, "src", "Slipway", "bin", "Release", "net10.0", "slipway.dll");
        if (!ctx.NoBuild)
        {
            Console.WriteLine("-- building src/Slipway in Release");
            using var build = Process.Start("dotnet", ["build", Path.Combine(root, "src", "Slipway", "Slipway.csproj"), "-c", "Release", "--nologo", "-v", "q"])!;
            await build.WaitForExitAsync();
            if (build.ExitCode != 0)
                throw new InvalidOperationException("the Release build failed");
        }
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/Slipway in Release first", dll);
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Slipway.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }
}
