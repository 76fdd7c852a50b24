using System.Diagnostics;
using System.Net.Http.Headers;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// The file server on the local store, against plain copies of the same bytes on the same disk. Slipway makes
/// an upload durable (fsync) before it answers, so the baseline copy is flushed to disk too; a copy without
/// the flush is shown beside it. Memory is the bench process's peak resident growth (server and client share
/// the process; the client streams from and to files).
/// </summary>
public static class FilesScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var size = ctx.Quick ? 64L << 20 : (ctx.FileMb ?? 1024) * (1L << 20);
        var smallFiles = ctx.Quick ? 1_000 : 10_000;
        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        using var client = await server.LoginAsync();
        var work = Path.Combine(server.Server.Options.DataDir, "bench-work");
        Directory.CreateDirectory(work);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 8, UseProxy = false })
        {
            BaseAddress = server.Server.FilesUrl, Timeout = TimeSpan.FromMinutes(30),
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", client.Token);

        var source = Path.Combine(work, "big.bin");
        Console.WriteLine($"-- writing a {Fmt.Mb(size)} source file");
        await WriteRandomAsync(source, size);

        // Three rounds, each kind of transfer once per round, so drift in the disk and page cache hits all alike.
        var durableCopies = new List<TimeSpan>();
        var plainCopies = new List<TimeSpan>();
        var uploads = new List<TimeSpan>();
        var downloads = new List<TimeSpan>();
        double uploadGrowth = 0, downloadGrowth = 0;
        var downloaded = Path.Combine(work, "downloaded.bin");
        for (var round = 0; round < 3; round++)
        {
            durableCopies.Add(await TimeAsync(() => CopyAsync(source, Path.Combine(work, "copy-durable.bin"), flush: true)));
            plainCopies.Add(await TimeAsync(() => CopyAsync(source, Path.Combine(work, "copy-plain.bin"), flush: false)));
            File.Delete(Path.Combine(work, "copy-durable.bin"));
            File.Delete(Path.Combine(work, "copy-plain.bin"));
            using var memory = new PeakRss();
            uploads.Add(await TimeAsync(async () =>
            {
                await using var file = File.OpenRead(source);
                using var form = new MultipartFormDataContent { { new StreamContent(file, 1 << 16), "/bench/big.bin", "/bench/big.bin" } };
                using var response = await http.PostAsync("/", form);
                response.EnsureSuccessStatusCode();
            }));
            uploadGrowth = Math.Max(uploadGrowth, memory.GrowthAndReset());
            downloads.Add(await TimeAsync(async () =>
            {
                using var response = await http.GetAsync("/bench/big.bin", HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                await using var target = new FileStream(downloaded, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                await response.Content.CopyToAsync(target);
                await target.FlushAsync();
                target.Flush(flushToDisk: true);
            }));
            downloadGrowth = Math.Max(downloadGrowth, memory.GrowthAndReset());
            if (new FileInfo(downloaded).Length != size)
                throw new InvalidOperationException("the download is not the upload");
            File.Delete(downloaded);
        }
        static TimeSpan Median(List<TimeSpan> times) => times.Order().ElementAt(times.Count / 2);
        var (durableCopy, plainCopy, upload, download) = (Median(durableCopies), Median(plainCopies), Median(uploads), Median(downloads));

        string Speed(TimeSpan t) => $"{size / t.TotalSeconds / (1 << 20):N0} MiB/s";
        var results = ctx.Results;
        results.Add(new Row("files", "local", $"upload of {Fmt.Mb(size)} (multipart POST, made durable)", Speed(upload), $"{Speed(durableCopy)} (copy + fsync)",
            Fmt.Pct(durableCopy / upload), "≥ 80 % of a plain copy", durableCopy / upload >= 0.8));
        results.Add(new Row("files", "local", $"download of {Fmt.Mb(size)} (GET to a file, flushed)", Speed(download), $"{Speed(durableCopy)} (copy + fsync)",
            Fmt.Pct(durableCopy / download), "≥ 80 % of a plain copy", durableCopy / download >= 0.8));
        results.Add(new Row("files", "local", "peak resident growth during the upload / download", $"{Fmt.Mb(uploadGrowth)} / {Fmt.Mb(downloadGrowth)}", "-", "-",
            "< 100 MB", Math.Max(uploadGrowth, downloadGrowth) < 100_000_000));
        results.Add(new Row("files", "local", "diagnostic: plain copy without fsync", Speed(plainCopy), "-", "-", "-", null));
        results.Note($"files: medians of 3 rounds; copy + fsync {string.Join(" / ", durableCopies.Select(Speed))}, upload {string.Join(" / ", uploads.Select(Speed))}, download {string.Join(" / ", downloads.Select(Speed))}");

        // Many small files, one per request as the SDK sends them, 8 at a time.
        var payload = new byte[4096];
        Random.Shared.NextBytes(payload);
        var smallDir = Path.Combine(work, "small");
        Directory.CreateDirectory(smallDir);
        var baselineWrite = await TimeAsync(() => Parallel.ForEachAsync(Enumerable.Range(0, smallFiles), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            await using var file = new FileStream(Path.Combine(smallDir, $"f{i}.bin"), FileMode.Create, FileAccess.Write, FileShare.None, 4096);
            await file.WriteAsync(payload, ct);
            file.Flush(flushToDisk: true);
        }));
        var baselineRead = await TimeAsync(() => Parallel.ForEachAsync(Enumerable.Range(0, smallFiles), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (i, ct) => await File.ReadAllBytesAsync(Path.Combine(smallDir, $"f{i}.bin"), ct)));
        var uploadSmall = await TimeAsync(() => Parallel.ForEachAsync(Enumerable.Range(0, smallFiles), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            using var form = new MultipartFormDataContent { { new ByteArrayContent(payload), $"/bench/small/f{i}.bin", $"/bench/small/f{i}.bin" } };
            using var response = await http.PostAsync("/", form, ct);
            response.EnsureSuccessStatusCode();
        }));
        var fetchSmall = await TimeAsync(() => Parallel.ForEachAsync(Enumerable.Range(0, smallFiles), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (i, ct) => await http.GetByteArrayAsync($"/bench/small/f{i}.bin", ct)));
        string PerSecond(TimeSpan t) => $"{smallFiles / t.TotalSeconds:N0} files/s";
        results.Add(new Row("files", "local", $"upload of {Fmt.N(smallFiles)} 4 KB files (one request each, 8 at a time)", PerSecond(uploadSmall),
            $"{PerSecond(baselineWrite)} (write + fsync)", Fmt.Pct(baselineWrite / uploadSmall), "-", null));
        results.Add(new Row("files", "local", $"fetch of the {Fmt.N(smallFiles)} files", PerSecond(fetchSmall), $"{PerSecond(baselineRead)} (read)",
            Fmt.Pct(baselineRead / fetchSmall), "-", null));
        Directory.Delete(work, true);
    }

    private static async Task WriteRandomAsync(string path, long size)
    {
        var buffer = new byte[1 << 20];
        Random.Shared.NextBytes(buffer);
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        for (long written = 0; written < size; written += buffer.Length)
            await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)));
        file.Flush(flushToDisk: true);
    }

    private static async Task CopyAsync(string from, string to, bool flush)
    {
        await using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        await using var target = new FileStream(to, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        await source.CopyToAsync(target, 1 << 16);
        await target.FlushAsync();
        if (flush)
            target.Flush(flushToDisk: true);
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> work)
    {
        var start = Stopwatch.GetTimestamp();
        await work();
        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>Samples the process's resident memory every 10 ms and reports the peak above where it started.</summary>
    private sealed class PeakRss : IDisposable
    {
        private readonly Timer _timer;
        private long _start;
        private long _peak;

        public PeakRss()
        {
            _start = _peak = Rss();
            _timer = new Timer(_ => InterlockedMax(ref _peak, Rss()), null, 0, 10);
        }

        public double GrowthAndReset()
        {
            var growth = Math.Max(0, Interlocked.Read(ref _peak) - _start);
            _start = _peak = Rss();
            return growth;
        }

        private static long Rss()
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
            return 0;
        }

        private static void InterlockedMax(ref long target, long value)
        {
            long current;
            while (value > (current = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
            {
            }
        }

        public void Dispose() => _timer.Dispose();
    }
}
