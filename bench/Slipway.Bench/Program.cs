using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Slipway.Bench;
using Slipway.Bench.Scenarios;

var scenarios = new (string Name, string Help, Func<BenchContext, Task> Run)[]
{
    ("ingest", "events.add_batch scalar ingestion, 1/16/64 writers, vs a raw ADO.NET bulk insert", IngestScenario.RunAsync),
    ("get_by_id", "tasks.get_by_id p50/p99 (one sequential client) vs debug.ping", GetByIdScenario.RunAsync),
    ("get_all", "tasks.get_all over 100,000 tasks, filtered and ordered by a last_metrics value, vs unordered", GetAllScenario.RunAsync),
    ("histogram", "events.scalar_metrics_iter_histogram on a 10,000,000-point series vs a 10,000-point one", HistogramScenario.RunAsync),
    ("files", "file server: 1 GB upload and download vs a durable plain copy, 10,000 small files", FilesScenario.RunAsync),
    ("report", "Slipway.Client Log.Scalar in a loop: 10,000,000 calls, every value checked on the server", ReportScenario.RunAsync),
    ("dataset-get", "Slipway.Client dataset get of a 10,000-file, 1 GB version vs a plain copy of the same files", DatasetGetScenario.RunAsync),
    ("dataset-get-sdk", "`slipway dataset get` (a process) vs the official SDK's get_local_copy vs cp -r, on 10,000 files / 1 GiB and 100 × 10 MiB", DatasetGetSdkScenario.RunAsync),
    ("agent", "slipway agent: enqueue → task started p50/p99 over 200 tasks, Python env cache hit vs miss, agent CPU and RSS while a task runs", AgentScenario.RunAsync),
    ("web-table", "web UI experiments page over a 100,000-task project: first render and sorted by a metric column (server time) vs a 100-task project", WebTableScenario.RunAsync),
    ("web-scalars", "web UI scalars tab in Chromium: navigation to all 20 charts drawn, 20 metrics × 1,000,000 points vs × 1,000", WebScalarsScenario.RunAsync),
    ("permissions", "what role, tenant and project permission checks cost: tasks.get_all and events.add_batch as a member, checks on vs off", PermissionsScenario.RunAsync),
    ("big-batch", "memory and other clients' latency while 4 clients post 60 MB events.add_batch bodies at once", BigBatchScenario.RunAsync),
    ("autoscaler", "autoscaler: bursty-day replay vs ClearML's policy (p95 wait, instance-hours), a 10,000-task reconcile pass, enqueue → launch requested", AutoscalerScenario.RunAsync),
    ("startup", "cold start of the slipway executable to first answered request, and its idle RSS", StartupScenario.RunAsync),
    ("serving", "inference host: V2 JSON vs a bare Kestrel+ONNX host (16 connections), dynamic batching vs unbatched (64 clients), 10 MB model to first answer", ServingScenario.RunAsync),
    ("serving-swap", "inference host: six version swaps (add_version, then remove_version of the old one) under 16 connections of V2 JSON, p99 in the swaps vs the steady windows between them, failed requests", ServingSwapScenario.RunAsync),
    ("serving-python", "Python engine: the host↔worker hop p50 over the Preprocess hooks' own time in Python, 16 multiplexed callers, /serve over HTTP", PythonServingScenario.RunAsync),
};

string? scenario = null, outFile = null, postgres = null, engines = null;
int[]? writerCounts = null;
double? seconds = null;
int? points = null;
int? fileMb = null, datasetMb = null, datasetFiles = null;
bool noPostgres = false, quick = false, noBuild = false;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--out": outFile = Next(); break;
        case "--postgres": postgres = Next(); break;
        case "--no-postgres": noPostgres = true; break;
        case "--engines": engines = Next(); break;
        case "--quick": quick = true; break;
        case "--no-build": noBuild = true; break;
        case "--writers": writerCounts = Next().Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray(); break;
        case "--seconds": seconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--points": points = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture); break;
        case "--file-mb": fileMb = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--dataset-mb": datasetMb = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--dataset-files": datasetFiles = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture); break;
        case "-h" or "--help": scenario = "help"; break;
        default:
            if (args[i].StartsWith('-') || scenario is not null)
            {
                Console.Error.WriteLine($"unknown argument '{args[i]}'");
                return 2;
            }
            scenario = args[i];
            break;
    }
}
if (scenario is null or "help" || (scenario != "all" && scenarios.All(s => s.Name != scenario)))
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project bench/Slipway.Bench -- <scenario> [options]

        scenarios:
        """);
    foreach (var s in scenarios)
        Console.Error.WriteLine($"  {s.Name,-10} {s.Help}");
    Console.Error.WriteLine("""
          all        every scenario above, in order

        options:
          --out <file>          also write the results (markdown) to this file
          --postgres "<conn>"   PostgreSQL to use (a fresh database is created per run when allowed); with it, every
                                scenario but startup also runs on PostgreSQL
          --no-postgres         SQLite only (ingest otherwise starts a throwaway cluster from /usr/lib/postgresql/*/bin)
          --engines <list>      sqlite,postgres or either: overrides which engines every scenario runs on
          --quick               a short smoke run (smaller data, fewer calls); the figures are not the benchmark's
          --no-build            startup: do not build src/Slipway in Release first
          --writers <list>      ingest: the writer counts to run (default 1,16,64)
          --seconds <n>         ingest: the measuring window per writer count (default 10; warm-up is 3)
          --file-mb <n>         files: size of the large file in MiB (default 1,024)
          --dataset-mb <n>      dataset-get: size of the version in MiB (default 1,024)
          --dataset-files <n>   dataset-get: number of files in the version (default 10,000)
          --points <n>          histogram: points in the long series (default 10,000,000; PostgreSQL writes
                                them at roughly 10,000/s on a small machine, so pass fewer there)
        """);
    return scenario is "help" ? 0 : 2;
}

IReadOnlyList<Engine>? forced = engines?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
    .Select(e => e.ToLowerInvariant() switch
    {
        "sqlite" => Engine.Sqlite,
        "postgres" or "postgresql" or "pg" => Engine.Postgres,
        _ => throw new ArgumentException($"unknown engine '{e}'"),
    }).Distinct().ToList();

await using var pg = new PostgresProvider(postgres);
var context = new BenchContext(new Results(), pg, quick, noBuild, writerCounts, seconds, points, fileMb, (name) =>
{
    if (forced is not null)
        return noPostgres ? forced.Where(e => e == Engine.Sqlite).ToList() : forced;
    if (noPostgres)
        return [Engine.Sqlite];
    if (name == "ingest" || postgres is not null)
        return [Engine.Sqlite, Engine.Postgres];
    return [Engine.Sqlite];
})
{
    DatasetMb = datasetMb,
    DatasetFiles = datasetFiles,
};

var started = DateTimeOffset.Now;
var total = Stopwatch.StartNew();
var failures = new List<string>();
foreach (var s in scenarios.Where(s => scenario == "all" || s.Name == scenario))
{
    Console.WriteLine($"== {s.Name}: {s.Help}");
    var sw = Stopwatch.StartNew();
    try
    {
        await s.Run(context);
    }
    catch (Exception e)
    {
        failures.Add($"{s.Name}: {e.GetType().Name}: {e.Message}");
        Console.Error.WriteLine($"!! {s.Name} failed: {e}");
    }
    context.Results.Note($"{s.Name} took {sw.Elapsed.TotalSeconds:0} s of wall time");
}
foreach (var f in failures)
    context.Results.Note("FAILED " + f);

var report = new StringBuilder();
report.AppendLine(CultureInfo.InvariantCulture, $"# Slipway benchmark: {scenario}{(quick ? " (quick smoke run: not representative)" : "")}");
report.AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"- Date: {started:yyyy-MM-dd HH:mm zzz}, total {total.Elapsed.TotalSeconds:0} s");
foreach (var line in Machine.Describe())
    report.AppendLine(CultureInfo.InvariantCulture, $"- {line}");
if (pg.Description.Length > 0)
    report.AppendLine(CultureInfo.InvariantCulture, $"- {pg.Description}");
report.AppendLine();
report.Append(context.Results.ToMarkdown());
Console.WriteLine();
Console.WriteLine(report);
if (outFile is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
    await File.WriteAllTextAsync(outFile, report.ToString());
    Console.WriteLine($"written to {Path.GetFullPath(outFile)}");
}
return failures.Count == 0 ? 0 : 1;

namespace Slipway.Bench
{
    /// <summary>What every scenario gets: where to put figures, PostgreSQL, and which engines to run on.</summary>
    public sealed class BenchContext(Results results, PostgresProvider postgres, bool quick, bool noBuild, int[]? writerCounts, double? seconds,
        int? points, int? fileMb, Func<string, IReadOnlyList<Engine>> engines)
    {
        /// <summary>Size of the large file of the files scenario, in MiB (default 1,024).</summary>
        public int? FileMb { get; } = fileMb;

        /// <summary>Size of the dataset-get scenario's version, in MiB (default 1,024).</summary>
        public int? DatasetMb { get; init; }

        /// <summary>Files in the dataset-get scenario's version (default 10,000).</summary>
        public int? DatasetFiles { get; init; }
        public int? Points { get; } = points;
        public int[]? WriterCounts { get; } = writerCounts;
        public double? Seconds { get; } = seconds;
        public Results Results { get; } = results;
        public PostgresProvider Postgres { get; } = postgres;
        public bool Quick { get; } = quick;
        public bool NoBuild { get; } = noBuild;

        public IReadOnlyList<Engine> EnginesFor(string scenario) => engines(scenario);

        public static string Name(Engine engine) => engine == Engine.Sqlite ? "SQLite" : "PostgreSQL";
    }

    public static class Machine
    {
        public static IEnumerable<string> Describe()
        {
            yield return $"CPU: {CpuModel()}, {Environment.ProcessorCount} logical cores (nproc)";
            yield return $"Memory: {MemTotal()}";
            yield return $"OS: {RuntimeInformation.OSDescription}";
            yield return $".NET: {RuntimeInformation.FrameworkDescription}, GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, bench built {(IsRelease ? "Release" : "Debug")}";
        }

        private static bool IsRelease =>
#if DEBUG
            false;
#else
            true;
#endif

        private static string CpuModel()
        {
            try
            {
                return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
            }
            catch (IOException)
            {
                return "unknown";
            }
        }

        private static string MemTotal()
        {
            try
            {
                var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
                var kb = long.Parse(line!.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return $"{kb / 1024.0 / 1024.0:0.0} GiB";
            }
            catch (Exception e) when (e is IOException or FormatException or NullReferenceException)
            {
                return "unknown";
            }
        }
    }
}
