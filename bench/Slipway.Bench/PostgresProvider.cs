using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Slipway.Bench;

/// <summary>
/// PostgreSQL for the runs that need it: the server given with --postgres, or else a throwaway cluster started
/// on first use (initdb in a temporary directory, listening on 127.0.0.1 and a free port, stopped and removed
/// at exit). Every run gets a database of its own, dropped afterwards.
/// </summary>
public sealed class PostgresProvider(string? given) : IAsyncDisposable
{
    private readonly bool _throwaway = given is null;
    private string? _adminConnection = given;
    private string? _clusterDir;
    private string? _binDir;
    private int _databases;

    public bool IsThrowaway => _throwaway;
    public string Description { get; private set; } = "";

    public async Task<string> AdminConnectionAsync()
    {
        if (_adminConnection is null)
            await StartClusterAsync();
        if (Description.Length == 0)
        {
            await using var conn = new NpgsqlConnection(_adminConnection);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("SHOW server_version", conn);
            var version = (string)(await cmd.ExecuteScalarAsync())!;
            Description = IsThrowaway
                ? $"PostgreSQL {version}, throwaway cluster on 127.0.0.1 (default durability: fsync=on, synchronous_commit=on; shared_buffers=128MB)"
                : $"PostgreSQL {version} given with --postgres";
        }
        return _adminConnection!;
    }

    /// <summary>Creates a fresh database and returns its connection string and a way to drop it.</summary>
    public async Task<(string Connection, Func<ValueTask> Drop)> CreateDatabaseAsync()
    {
        var admin = await AdminConnectionAsync();
        var name = $"slipway_bench_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        try
        {
            await using var conn = new NpgsqlConnection(admin);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (PostgresException e) when (!IsThrowaway)
        {
            // No right to create databases: use the given one as it is (earlier runs' rows stay in it).
            Console.WriteLine($"  note: could not create a database ({e.MessageText}); using the --postgres database as given");
            return (admin, () => ValueTask.CompletedTask);
        }
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        var connection = builder.ToString();
        return (connection, DropAsync);

        async ValueTask DropAsync()
        {
            NpgsqlConnection.ClearAllPools();
            try
            {
                await using var conn = new NpgsqlConnection(admin);
                await conn.OpenAsync();
                await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", conn);
                await cmd.ExecuteNonQueryAsync();
            }
            catch (NpgsqlException e)
            {
                Console.WriteLine($"  note: could not drop database {name}: {e.Message}");
            }
        }
    }

    private async Task StartClusterAsync()
    {
        _binDir = FindBinDir() ?? throw new InvalidOperationException(
            "no PostgreSQL found (looked in /usr/lib/postgresql/*/bin and SLIPWAY_BENCH_PG_BIN); pass --postgres \"Host=…\" or --no-postgres");
        _clusterDir = Path.Combine(Path.GetTempPath(), "slipway-bench-pg-" + Guid.NewGuid().ToString("N")[..8]);
        var data = Path.Combine(_clusterDir, "data");
        Directory.CreateDirectory(_clusterDir);
        var asRoot = Environment.UserName == "root";
        if (asRoot)
            await RunAsync("chown", ["postgres:postgres", _clusterDir]);
        var port = FreePort();
        Console.WriteLine($"  starting a throwaway PostgreSQL cluster in {_clusterDir} on 127.0.0.1:{port}");
        await RunPgAsync(asRoot, "initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        await RunPgAsync(asRoot, "pg_ctl", ["-D", data, "-l", Path.Combine(_clusterDir, "server.log"), "-w", "-t", "60",
            "-o", $"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={_clusterDir} -c max_connections=300", "start"]);
        _adminConnection = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Maximum Pool Size=200;Timeout=30;Command Timeout=600";
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_clusterDir is null || _binDir is null)
            return;
        try
        {
            await RunPgAsync(Environment.UserName == "root", "pg_ctl", ["-D", Path.Combine(_clusterDir, "data"), "-m", "fast", "-w", "stop"]);
        }
        catch (InvalidOperationException e)
        {
            Console.WriteLine($"  note: stopping the throwaway cluster: {e.Message}");
        }
        BenchServer.TryDelete(_clusterDir);
        _clusterDir = null;
    }

    private Task RunPgAsync(bool asRoot, string tool, IReadOnlyList<string> args)
    {
        var exe = Path.Combine(_binDir!, tool);
        return asRoot ? RunAsync("runuser", ["-u", "postgres", "--", exe, .. args]) : RunAsync(exe, args);
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {await stderr}{await stdout}");
    }

    private static string? FindBinDir()
    {
        if (Environment.GetEnvironmentVariable("SLIPWAY_BENCH_PG_BIN") is { Length: > 0 } env && File.Exists(Path.Combine(env, "initdb")))
            return env;
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
            return null;
        return Directory.GetDirectories(root)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: double.TryParse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0))
            .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Dir)
            .FirstOrDefault();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
