using System.CommandLine;
using System.Text.Json.Nodes;

namespace Slipway.Commands;

/// <summary>`slipway gc`: runs a cleanup pass over deleted entities' files now; with --dry-run, only lists what it would remove.</summary>
public static class GcCommand
{
    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "List what would be removed, and what is kept and why, without removing anything" };
        var conf = new Option<string?>("--conf") { Description = "clearml.conf with credentials (default: CLEARML_CONFIG_FILE, else ~/.slipway/clearml.conf)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var command = new Command("gc", "Remove the files of deleted tasks, models and dataset versions that nothing references") { dryRun, conf, json };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                using var api = await ApiConnection.OpenAsync(parse.GetValue(conf), ct);
                var dry = parse.GetValue(dryRun);
                var report = await api.CallAsync("files.run_cleanup", new JsonObject { ["dry_run"] = dry }, ct);
                if (parse.GetValue(json))
                {
                    Console.WriteLine(report.ToJsonString());
                    return 0;
                }
                var removed = report[dry ? "would_delete" : "deleted"]!.AsArray();
                Console.WriteLine(dry ? $"Would remove {removed.Count} file(s):" : $"Removed {removed.Count} file(s):");
                foreach (var path in removed)
                    Console.WriteLine($"  {path}");
                var kept = report["kept"]!.AsArray();
                if (kept.Count > 0)
                {
                    Console.WriteLine($"Kept {kept.Count} file(s) still referenced:");
                    foreach (var k in kept)
                        Console.WriteLine($"  {k!["path"]}  ({k["why"]})");
                }
                var failed = report["failed"]!.AsArray();
                foreach (var f in failed)
                    Console.WriteLine($"  failed: {f!["path"]}: {f["error"]} (retried later)");
                return failed.Count == 0 ? 0 : 1;
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"slipway gc: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
