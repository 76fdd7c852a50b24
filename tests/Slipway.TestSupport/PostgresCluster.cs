using System.Diagnostics;
using Npgsql;

namespace Slipway.TestSupport;

/// <summary>
/// The PostgreSQL the tests use: SLIPWAY_TEST_POSTGRES if set, else a throwaway cluster started once per
/// test run on loopback (as the postgres user when running as root, since initdb refuses root), stopped when the run ends.
/// Each test gets its own database.
/// </summary>
public static class PostgresCluster
{
    private static readonly Lazy<string> Server = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string CreateDatabase()
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..16];
        using (var conn = new NpgsqlConnection(Server.Value + ";Database=postgres"))
        {
            conn.Open();
            using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", conn);
            cmd.ExecuteNonQuery();
        }
        return Server.Value + $";Database={name}";
    }

    /// <summary>Runs one statement as the cluster's superuser, outside any test database (a tablespace, a setting).</summary>
    public static void Execute(string sql)
    {
        using var conn = new NpgsqlConnection(Server.Value + ";Database=postgres");
        conn.Open();
        using var cmd = new NpgsqlCommand(sql, conn);
        cmd.ExecuteNonQuery();
    }

    /// <summary>True when the cluster runs on this machine as the postgres user (started here as root), so a folder can be handed to it.</summary>
    public static bool RunsAsPostgresUser => Environment.GetEnvironmentVariable("SLIPWAY_TEST_POSTGRES") is not { Length: > 0 } && Environment.UserName == "root";

    public static void DropDatabase(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        using var conn = new NpgsqlConnection(Server.Value + ";Database=postgres");
        conn.Open();
        using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", conn);
        cmd.ExecuteNonQuery();
    }

    private static string Start()
    {
        if (Environment.GetEnvironmentVariable("SLIPWAY_TEST_POSTGRES") is { Length: > 0 } given)
            return given;
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL tests need either SLIPWAY_TEST_POSTGRES (a connection string without Database) or PostgreSQL server binaries (initdb, pg_ctl) installed.");
        var dir = Path.Combine(Path.GetTempPath(), "slipway-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var asRoot = Environment.UserName == "root";
        if (asRoot)
            Run("chown", $"postgres {dir}", false);
        var port = LoopbackPort.Free();
        Run(Path.Combine(bin, "initdb"), $"-D {dir}/data -U slipway --auth=trust -E UTF8 --no-sync", asRoot);
        Run(Path.Combine(bin, "pg_ctl"),
            $"-D {dir}/data -l {dir}/log -w -o \"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300\" start", asRoot);
        var stop = $"{(asRoot ? "runuser -u postgres -- " : "")}{Path.Combine(bin, "pg_ctl")} -D {dir}/data -m immediate stop";
        Reaper.AfterThisProcess($"{stop}; rm -rf {dir} || (sleep 2; rm -rf {dir})");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            NpgsqlConnection.ClearAllPools();
            Run(Path.Combine(bin, "pg_ctl"), $"-D {dir}/data -m immediate stop", asRoot, check: false);
            try { Directory.Delete(dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return $"Host=127.0.0.1;Port={port};Username=slipway;Pooling=true;Maximum Pool Size=100";
    }

    private static string? FindBin()
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin"))
            : [];
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")));
    }

    private static void Run(string file, string args, bool asPostgres, bool check = true)
    {
        var start = asPostgres
            ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {args}")
            : new ProcessStartInfo(file, args);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (check && process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {args} failed ({process.ExitCode}): {error} {output.Result}");
    }
}
