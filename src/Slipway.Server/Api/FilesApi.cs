using System.Text.Json.Nodes;
using Slipway.Server.Domain.StoredFiles;

namespace Slipway.Server.Api;

/// <summary>files.* (a Slipway extension): the cleanup of deleted entities' files, to inspect and to run now.</summary>
public sealed class FilesApi(FileCleanup cleanup)
{
    public void Map(RpcRouter router)
    {
        router.Add("files.get_cleanup", GetCleanup, "");
        router.Add("files.run_cleanup", RunCleanup, "dry_run");
    }

    private async ValueTask<JsonNode?> GetCleanup(RpcCall call) =>
        new JsonObject { ["pending"] = new JsonArray((await cleanup.PendingAsync(call.Aborted)).Select(p => (JsonNode)p).ToArray()) };

    private async ValueTask<JsonNode?> RunCleanup(RpcCall call)
    {
        var dryRun = call.Bool("dry_run");
        var report = await cleanup.RunAsync(dryRun, call.Aborted);
        return new JsonObject
        {
            ["dry_run"] = dryRun,
            [dryRun ? "would_delete" : "deleted"] = new JsonArray(report.Deleted.Select(p => (JsonNode)p).ToArray()),
            ["kept"] = new JsonArray(report.Kept.Select(k => (JsonNode)new JsonObject { ["path"] = k.Path, ["why"] = k.Why }).ToArray()),
            ["failed"] = new JsonArray(report.Failed.Select(f => (JsonNode)new JsonObject { ["path"] = f.Path, ["error"] = f.Error }).ToArray()),
        };
    }
}
