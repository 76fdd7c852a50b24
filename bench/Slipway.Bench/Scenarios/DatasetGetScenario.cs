using System.Diagnostics;
using Slipway.Client;
using Slipway.Client.Datasets;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// A dataset get with Slipway.Client (a fresh local copy of a 10,000-file, 1 GiB version: chunks downloaded from the
/// file server, extracted and every file checked against its SHA-256) against a plain copy of the same 10,000
/// source files (File.Copy, one after the other) into a fresh folder on the same disk, in rounds that swap the order.
/// The files are random bytes (incompressible, like images), stored as the SDK's default deflate.
/// </summary>
public static class DatasetGetScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var totalBytes = (ctx.DatasetMb ?? (ctx.Quick ? 64 : 1024)) * (1L << 20);
        var fileCount = ctx.DatasetFiles ?? (ctx.Quick ? 1_000 : 10_000);
        var rounds = ctx.Quick ? 1 : 6;
        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        var work = Path.Combine(server.Server.Options.DataDir, "bench-dataset");
        var source = Path.Combine(work, "source");
        using var client = new SlipwayClient(server.AdminClientOptions());

        Console.WriteLine($"-- writing {Fmt.N(fileCount)} source files, {Fmt.Mb(totalBytes)} in all");
        var sizes = Sizes(fileCount, totalBytes);
        var paths = WriteSource(source, sizes);

        var upload = Stopwatch.StartNew();
        var version = await client.Datasets.CreateAsync("bench", "dataset-get");
        await version.AddFilesAsync(source);
        await version.UploadAsync();
        await version.FinalizeAsync();
        upload.Stop();
        var chunks = version.Files.Select(f => f.ChunkName).Distinct().Count();
        Console.WriteLine($"-- version {version.Id}: {chunks} chunk(s), add + upload + finalize took {upload.Elapsed.TotalSeconds:0.0} s");

        var copies = new List<TimeSpan>();
        var parallelCopies = new List<TimeSpan>();
        var gets = new List<TimeSpan>();
        var hits = new List<TimeSpan>();
        var sizesOnly = new List<TimeSpan>();
        var copyCpu = new List<(TimeSpan User, TimeSpan Kernel)>();
        var getCpu = new List<(TimeSpan User, TimeSpan Kernel)>();
        var getJit = new List<(TimeSpan Time, long Methods)>();
        using var process = Process.GetCurrentProcess();

        // The first get in a process also compiles the client's and the file server's code (about 2,000 methods, ~1 s
        // of JIT): it is timed on its own, and the rounds measure the get as a process that has run one before does.
        Sync();
        var (jit0, methods0) = (System.Runtime.JitInfo.GetCompilationTime(), System.Runtime.JitInfo.GetCompiledMethodCount());
        var first = await TimeAsync(() => client.Datasets.GetLocalCopyAsync(version.Id, new LocalCopyOptions { CacheDirectory = Path.Combine(work, "cache-first") }));
        var firstJit = (System.Runtime.JitInfo.GetCompilationTime() - jit0, System.Runtime.JitInfo.GetCompiledMethodCount() - methods0);
        for (var round = 0; round < rounds; round++)
        {
            // Every step writes into a folder of its own and nothing is deleted until the end, and the two measured
            // steps swap places every round: on ext4, creating files costs more after many files were created or
            // deleted shortly before (the inode allocator re-reads inode tables), which would otherwise always
            // charge the same side.
            void PlainCopy()
            {
                var target = Path.Combine(work, $"plain-copy-{round}");
                Sync();
                var cpu = Cpu(process);
                copies.Add(Time(() =>
                {
                    foreach (var path in paths)
                    {
                        var destination = Path.Combine(target, Path.GetRelativePath(source, path));
                        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                        File.Copy(path, destination);
                    }
                }));
                copyCpu.Add(Since(process, cpu));
            }
            async Task DatasetGetAsync()
            {
                DatasetLocalCopy? copy = null;
                var options = new LocalCopyOptions { CacheDirectory = Path.Combine(work, $"cache-{round}") };
                Sync();
                var cpu = Cpu(process);
                var (jit, methods) = (System.Runtime.JitInfo.GetCompilationTime(), System.Runtime.JitInfo.GetCompiledMethodCount());
                gets.Add(await TimeAsync(async () => copy = await client.Datasets.GetLocalCopyAsync(version.Id, options)));
                getCpu.Add(Since(process, cpu));
                getJit.Add((System.Runtime.JitInfo.GetCompilationTime() - jit, System.Runtime.JitInfo.GetCompiledMethodCount() - methods));
                if (copy!.FromCache || copy.Files.Count != fileCount)
                    throw new InvalidOperationException("the dataset get did not build a fresh, whole copy");
                hits.Add(await TimeAsync(async () =>
                {
                    if (!(await client.Datasets.GetLocalCopyAsync(version.Id, options)).FromCache)
                        throw new InvalidOperationException("the second get missed the cache");
                }));
            }
            if (round % 2 == 0)
            {
                PlainCopy();
                await DatasetGetAsync();
            }
            else
            {
                await DatasetGetAsync();
                PlainCopy();
            }
            // Diagnostic, always last in the round: the same get checking sizes only (what hashing costs).
            Sync();
            sizesOnly.Add(await TimeAsync(() => client.Datasets.GetLocalCopyAsync(version.Id,
                new LocalCopyOptions { CacheDirectory = Path.Combine(work, $"cache-sizes-{round}"), VerifyHashes = false })));
            var parallelTarget = Path.Combine(work, $"parallel-copy-{round}");
            Sync();
            parallelCopies.Add(Time(() => Parallel.ForEach(paths, path =>
            {
                var destination = Path.Combine(parallelTarget, Path.GetRelativePath(source, path));
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(path, destination);
            })));
        }
        static TimeSpan Median(List<TimeSpan> t) => t.Order().ElementAt(t.Count / 2);
        static double MedianOf(IEnumerable<double> values)
        {
            var sorted = values.Order().ToList();
            return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        }
        var (plain, get, hit) = (Median(copies), Median(gets), Median(hits));
        string Speed(TimeSpan t) => $"{totalBytes / t.TotalSeconds / (1 << 20):N0} MiB/s";
        var ratios = copies.Zip(gets, (c, g) => c / g).ToList();
        var ratio = MedianOf(ratios);
        ctx.Results.Add(new Row("dataset-get", "local", $"fresh local copy of a {Fmt.N(fileCount)}-file, {Fmt.Mb(totalBytes)} version ({chunks} chunks; download, extract, SHA-256 check)",
            $"{Speed(get)} ({get.TotalSeconds:0.00} s)", $"{Speed(plain)} ({plain.TotalSeconds:0.00} s, File.Copy of the source files)", Fmt.Pct(ratio),
            "≥ 80 % of a plain copy", ratio >= 0.8, $"ratio per round {string.Join(" / ", ratios.Select(Fmt.Pct))} (median shown)"));
        var sizesRatios = copies.Zip(sizesOnly, (c, g) => c / g).ToList();
        ctx.Results.Add(new Row("dataset-get", "local", "diagnostic: the same get checking sizes only (VerifyHashes = false), run last in each round",
            $"{Speed(Median(sizesOnly))}", "-", $"{Fmt.Pct(MedianOf(sizesRatios))} of the round's plain copy", "-", null,
            $"ratio per round {string.Join(" / ", sizesRatios.Select(Fmt.Pct))}"));
        ctx.Results.Add(new Row("dataset-get", "local", "first get in the process (not in the rounds; JIT time, methods compiled)",
            $"{Speed(first)} ({first.TotalSeconds:0.00} s; JIT {firstJit.Item1.TotalMilliseconds:0} ms, {firstJit.Item2} methods)", "-", "-", "-", null));
        ctx.Results.Add(new Row("dataset-get", "local", "diagnostic: writing the version (create, add with hashing, upload with deflate, finalize; not timed against anything)",
            $"{Speed(upload.Elapsed)} ({upload.Elapsed.TotalSeconds:0.0} s)", "-", "-", "-", null));
        ctx.Results.Add(new Row("dataset-get", "local", "second get (cache hit: one stat per file, no request)", $"{hit.TotalMilliseconds:0} ms", "-", "-", "-", null));
        static string CpuText(List<(TimeSpan User, TimeSpan Kernel)> samples)
        {
            var median = samples.OrderBy(c => c.User + c.Kernel).ElementAt(samples.Count / 2);
            return $"{(median.User + median.Kernel).TotalSeconds:0.00} s ({median.User.TotalSeconds:0.00} user + {median.Kernel.TotalSeconds:0.00} kernel)";
        }
        ctx.Results.Add(new Row("dataset-get", "local", "diagnostic: CPU time of the get (client and server in one process) / of the plain copy", CpuText(getCpu),
            CpuText(copyCpu), "-", "-", null));
        ctx.Results.Add(new Row("dataset-get", "local", "diagnostic: JIT time during the get, per round (methods compiled)",
            string.Join(" / ", getJit.Select(j => $"{j.Time.TotalMilliseconds:0} ms ({j.Methods})")), "-", "-", "-", null));
        ctx.Results.Add(new Row("dataset-get", "local", $"diagnostic: plain copy with {Environment.ProcessorCount} threads", Speed(Median(parallelCopies)), "-", "-", "-", null));
        ctx.Results.Note($"dataset-get: {rounds} round(s), the copy first in even rounds and the get first in odd ones, each step after a sync; " +
            $"plain copy {string.Join(" / ", copies.Select(Speed))}, dataset get {string.Join(" / ", gets.Select(Speed))}, parallel copy {string.Join(" / ", parallelCopies.Select(Speed))}; " +
            $"CPU per round (user + kernel): plain copy {string.Join(" / ", copyCpu.Select(CpuPair))}, dataset get {string.Join(" / ", getCpu.Select(CpuPair))}");
        static string CpuPair((TimeSpan User, TimeSpan Kernel) c) => $"{c.User.TotalSeconds:0.00}+{c.Kernel.TotalSeconds:0.00} s";
        Directory.Delete(work, true);
    }

    /// <summary>File sizes around the mean (±50 %), summing to the total.</summary>
    internal static long[] Sizes(int count, long total)
    {
        var random = new Random(42);
        var weights = Enumerable.Range(0, count).Select(_ => 0.5 + random.NextDouble()).ToArray();
        var sum = weights.Sum();
        var sizes = weights.Select(w => (long)(w / sum * total)).ToArray();
        sizes[0] += total - sizes.Sum();
        return sizes;
    }

    /// <summary>Writes the source files (random bytes) into 100 folders and returns their paths.</summary>
    internal static List<string> WriteSource(string root, long[] sizes)
    {
        var block = new byte[4 << 20];
        Random.Shared.NextBytes(block);
        var paths = new List<string>(sizes.Length);
        for (var i = 0; i < sizes.Length; i++)
        {
            var path = Path.Combine(root, $"part-{i % 100:00}", $"sample-{i:00000}.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0);
            var offset = (int)((i * 7919L) % (block.Length / 2)); // a different slice of the block per file, so files differ
            for (var left = sizes[i]; left > 0;)
            {
                var n = (int)Math.Min(left, block.Length - offset);
                file.Write(block, offset, n);
                left -= n;
                offset = 0;
            }
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>
    /// Writes dirty pages back before a timed step, so no step pays for the write-back of the one before it (each
    /// writes 1 GB into the page cache; neither is timed to disk).
    /// </summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "sync")]
    internal static extern void Sync();

    /// <summary>CPU time used by the process so far (user and kernel).</summary>
    private static (TimeSpan User, TimeSpan Kernel) Cpu(Process process)
    {
        process.Refresh();
        return (process.UserProcessorTime, process.PrivilegedProcessorTime);
    }

    private static (TimeSpan User, TimeSpan Kernel) Since(Process process, (TimeSpan User, TimeSpan Kernel) start)
    {
        var now = Cpu(process);
        return (now.User - start.User, now.Kernel - start.Kernel);
    }

    private static TimeSpan Time(Action work)
    {
        var start = Stopwatch.GetTimestamp();
        work();
        return Stopwatch.GetElapsedTime(start);
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> work)
    {
        var start = Stopwatch.GetTimestamp();
        await work();
        return Stopwatch.GetElapsedTime(start);
    }
}
