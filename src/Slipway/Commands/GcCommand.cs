using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway gc`: runs a cleanup pass over deleted entities' files now; with --dry-run, only lists what it would remove.</summary>
public static class GcCommand
{
    public static Command Create(CliConsole console)
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "List what would be removed, and what is kept and why, without removing anything" };
        var command = new ClientCommand("gc", "Remove the files of deleted tasks, models and dataset versions that nothing references (exit code 1 when some could not be removed)", console)
        {
            dryRun,
        };
        command.SetClientAction(async run =>
        {
            var dry = run.Get(dryRun);
            var report = await run.Client.CallAsync("files.run_cleanup", new JsonObject { ["dry_run"] = dry }, run.CancellationToken);
            var failed = report["failed"] as JsonArray ?? [];
            if (run.Json)
            {
                run.WriteJson(report);
                return failed.Count == 0 ? ExitCodes.Ok : ExitCodes.Failed;
            }
            var removed = report[dry ? "would_delete" : "deleted"] as JsonArray ?? [];
            run.Out.WriteLine(dry ? $"Would remove {removed.Count} file(s):" : $"Removed {removed.Count} file(s):");
            foreach (var path in removed)
                run.Out.WriteLine($"  {path}");
            var kept = report["kept"] as JsonArray ?? [];
            if (kept.Count > 0)
            {
                run.Out.WriteLine($"Kept {kept.Count} file(s) still referenced:");
                foreach (var k in kept)
                    run.Out.WriteLine($"  {k?["path"]}  ({k?["why"]})");
            }
            foreach (var f in failed)
                run.Out.WriteLine($"  failed: {f?["path"]}: {f?["error"]} (retried later)");
            return failed.Count == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }
}
