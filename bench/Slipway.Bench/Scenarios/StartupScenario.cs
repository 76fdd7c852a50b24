using System.Diagnostics;
using System.Globalization;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// Cold start of the built executable (`dotnet slipway.dll server …` on a fresh data directory) to the first
/// answered GET /debug.ping, and its resident memory after ~5 s idle; median of 3 runs. Baseline: the same
/// executable answering `--version` and exiting (runtime start + assembly load, no server). A diagnostic
/// restart on the already-initialised data directory shows what first-start setup costs.
/// </summary>
public static class StartupScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        var root = RepoRoot();
        var dll = Path.Combine(root, "src", "Slipway", "bin", "Release", "net10.0", "slipway.dll");
        if (!ctx.NoBuild)
        {
            Console.WriteLine("-- building src/Slipway in Release");
            await RunToExitAsync("dotnet", ["build", Path.Combine(root, "src", "Slipway", "Slipway.csproj"), "-c", "Release", "--nologo", "-v", "q"], TimeSpan.FromMinutes(5));
        }
        if (!File.Exists(dll))
            throw new FileNotFoundException("build src/Slipway in Release first", dll);

        var runs = ctx.Quick ? 1 : 3;
        var idle = TimeSpan.FromSeconds(ctx.Quick ? 2 : 5);
        await RunToExitAsync("dotnet", [dll, "--version"], TimeSpan.FromMinutes(1)); // page cache, untimed
        var versionTimes = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            await RunToExitAsync("dotnet", [dll, "--version"], TimeSpan.FromMinutes(1));
            versionTimes.Add(sw.Elapsed.TotalMilliseconds);
        }

        var startTimes = new List<double>();
        var restartTimes = new List<double>();
        var rss = new List<double>();
        var hwm = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var data = Path.Combine(Path.GetTempPath(), "slipway-bench-start-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                var (ms, rssBytes, hwmBytes) = await StartOnceAsync(dll, data, idle);
                startTimes.Add(ms);
                rss.Add(rssBytes);
                hwm.Add(hwmBytes);
                var (again, _, _) = await StartOnceAsync(dll, data, TimeSpan.Zero);
                restartTimes.Add(again);
                Console.WriteLine($"   run {i + 1}: first answer after {ms:0} ms, RSS {Fmt.Mb(rssBytes)} after {idle.TotalSeconds:0} s idle (peak {Fmt.Mb(hwmBytes)}); restart on the same data: {again:0} ms");
            }
            finally
            {
                BenchServer.TryDelete(data);
            }
        }

        static string All(IEnumerable<double> xs, Func<double, string> f) => string.Join(", ", xs.Select(f));
        var start = Median(startTimes);
        var version = Median(versionTimes);
        ctx.Results.Add(new Row("startup", "SQLite", $"cold start to first answered /debug.ping (median of {runs})",
            Fmt.Ms(start), Fmt.Ms(version) + " (`slipway --version`, exits)", Fmt.Ratio(start / version), "< 1 s", start < 1000,
            $"runs: {All(startTimes, Fmt.Ms)}; `--version` runs: {All(versionTimes, Fmt.Ms)}"));
        ctx.Results.Add(new Row("startup", "SQLite", $"resident memory (VmRSS) after {idle.TotalSeconds:0} s idle (median of {runs})",
            Fmt.Mb(Median(rss)), "-", "-", "< 150 MB", Median(rss) < 150e6,
            $"runs: {All(rss, Fmt.Mb)}; peak VmHWM: {All(hwm, Fmt.Mb)}"));
        ctx.Results.Add(new Row("startup", "SQLite", "diagnostic: restart on an initialised data directory, to first answer (median)",
            Fmt.Ms(Median(restartTimes)), "-", "-", "-", null));
    }

    private static async Task<(double Ms, double Rss, double Hwm)> StartOnceAsync(string dll, string dataDir, TimeSpan idle)
    {
        var port = PostgresProvider.FreePort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { dll, "server", "--data", dataDir, "--host", "127.0.0.1", "--api-port", port.ToString(CultureInfo.InvariantCulture), "--web-port", "0", "--files-port", "0" })
            psi.ArgumentList.Add(a);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var url = new Uri($"http://127.0.0.1:{port}/debug.ping");
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var stderr = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            while (true)
            {
                if (process.HasExited)
                    throw new InvalidOperationException($"slipway exited with {process.ExitCode} before answering: {stderr}");
                if (sw.Elapsed > TimeSpan.FromSeconds(60))
                    throw new TimeoutException("slipway did not answer /debug.ping within 60 s");
                try
                {
                    using var response = await http.GetAsync(url);
                    if (response.IsSuccessStatusCode)
                        break;
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(5);
            }
            var ms = sw.Elapsed.TotalMilliseconds;
            if (idle <= TimeSpan.Zero)
                return (ms, 0, 0);
            await Task.Delay(idle);
            return (ms, StatusBytes(process.Id, "VmRSS:"), StatusBytes(process.Id, "VmHWM:"));
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    internal static double StatusBytes(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    internal static async Task RunToExitAsync(string file, IReadOnlyList<string> args, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(limit);
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {await stdout}{await stderr}");
    }

    /// <summary>The directory holding Slipway.slnx, searched upwards from the bench binary and then from the working directory.</summary>
    internal static string RepoRoot()
    {
        foreach (var startDir in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(startDir); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Slipway.slnx")))
                    return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("could not find Slipway.slnx above the bench binary or the working directory");
    }
}
