using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Slipway.Server.Blobs;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.StoredFiles;

/// <summary>What a cleanup pass did (or, dry, would do).</summary>
public sealed record CleanupReport(List<string> Deleted, List<(string Path, string Why)> Kept, List<(string Path, string Error)> Failed);

/// <summary>
/// Removes the files of deleted tasks, models and dataset versions from the blob store, in the background.
/// Deletions wait in the store (so they survive a restart) and a path is removed only when no live task or
/// model points at it and, for a dataset version's files, no live task mentions that version (a child
/// version reads its parent's chunks). A referenced file is checked again later; a failed delete is retried
/// with growing delays.
/// </summary>
public sealed partial class FileCleanup(IDocumentStore docs, IBlobStore blobs, FilesPort filesPort, TimeProvider clock, ILogger<FileCleanup> logger) : IDisposable
{
    public static readonly TimeSpan RecheckReferenced = TimeSpan.FromHours(1);
    private readonly SemaphoreSlim _pass = new(1, 1);

    public void Dispose() => _pass.Dispose();

    public async Task EnqueueAsync(IEnumerable<string> paths, string reason, CancellationToken ct)
    {
        var now = Json.Timestamp(clock.GetUtcNow());
        foreach (var path in paths.Distinct(StringComparer.Ordinal))
        {
            await docs.InsertAsync(Collection.Cleanup, Id(path), new JsonObject
            {
                ["id"] = Id(path), ["path"] = path, ["reason"] = reason, ["requested"] = now, ["attempts"] = 0, ["next_attempt"] = now,
            }, ct);
        }
    }

    public async Task<List<JsonObject>> PendingAsync(CancellationToken ct) =>
        (await docs.FindAsync(Collection.Cleanup, new DocQuery { OrderBy = { new SortKey("next_attempt", false) } }, ct)).Select(d => d.Body).ToList();

    /// <summary>One pass over the deletions that are due (all of them when dry, which changes nothing).</summary>
    public async Task<CleanupReport> RunAsync(bool dryRun, CancellationToken ct)
    {
        var report = new CleanupReport([], [], []);
        var port = await filesPort.All;
        await _pass.WaitAsync(ct);
        try
        {
            var now = clock.GetUtcNow();
            var due = await docs.FindAsync(Collection.Cleanup, new DocQuery { Take = 500, OrderBy = { new SortKey("next_attempt", false) } }, ct);
            foreach (var entry in due)
            {
                if (!dryRun && string.CompareOrdinal(Json.GetString(entry.Body, "next_attempt"), Json.Timestamp(now)) > 0)
                    continue;
                var path = Json.GetString(entry.Body, "path")!;
                try
                {
                    if (await ReferenceAsync(path, port, ct) is { } why)
                    {
                        report.Kept.Add((path, why));
                        if (!dryRun)
                            await RescheduleAsync(entry, RecheckReferenced, error: null, ct);
                        continue;
                    }
                    if (!dryRun)
                    {
                        await blobs.DeleteAsync(path, ct);
                        await docs.DeleteAsync(Collection.FileOwners, path, ct);
                        await docs.DeleteAsync(Collection.Cleanup, entry.Id, ct);
                    }
                    report.Deleted.Add(path);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    report.Failed.Add((path, e.Message));
                    if (!dryRun)
                    {
                        var attempts = (Json.GetLong(entry.Body["attempts"]) ?? 0) + 1;
                        await RescheduleAsync(entry, Backoff(attempts), e.Message, ct);
                    }
                }
            }
        }
        finally
        {
            _pass.Release();
        }
        if (!dryRun && (report.Deleted.Count > 0 || report.Failed.Count > 0))
            Log.Pass(logger, report.Deleted.Count, report.Kept.Count, report.Failed.Count);
        return report;
    }

    /// <summary>Why the path must stay, or null when nothing live needs it.</summary>
    private async Task<string?> ReferenceAsync(string path, IReadOnlySet<int> port, CancellationToken ct)
    {
        var owners = FileReferences.OwnerIds(path).ToList();
        foreach (var collection in new[] { Collection.Tasks, Collection.Models })
        {
            // Files sit under their task's id, so documents that mention it are the only candidates; a path without one means a full scan.
            var candidates = owners.Count == 0
                ? await docs.FindAsync(collection, new DocQuery(), ct)
                : (await Task.WhenAll(owners.Select(o => docs.FindAsync(collection, new DocQuery().Where(new DocContains(o)), ct)))).SelectMany(d => d).ToList();
            foreach (var doc in candidates)
            {
                if (FileReferences.PathsIn(doc.Body, port).Contains(path))
                    return $"{(collection == Collection.Tasks ? "task" : "model")} {doc.Id} points at it";
                if (collection == Collection.Tasks && path.Contains("/.datasets/", StringComparison.Ordinal) && owners.Any(o => doc.Id != o))
                    return $"task {doc.Id} refers to dataset version {string.Join(",", owners)}";
            }
        }
        return null;
    }

    private async Task RescheduleAsync(StoredDoc entry, TimeSpan after, string? error, CancellationToken ct)
    {
        var body = (JsonObject)entry.Body.DeepClone();
        body["next_attempt"] = Json.Timestamp(clock.GetUtcNow() + after);
        if (error is not null)
        {
            body["attempts"] = (Json.GetLong(body["attempts"]) ?? 0) + 1;
            body["last_error"] = error;
        }
        await docs.ReplaceAsync(Collection.Cleanup, entry, body, ct);
    }

    /// <summary>2 s, 4 s, 8 s… capped at an hour.</summary>
    public static TimeSpan Backoff(long attempts) => TimeSpan.FromSeconds(Math.Min(3600, Math.Pow(2, Math.Min(attempts, 12))));

    private static string Id(string path) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(path)))[..32];

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "File cleanup: {Deleted} deleted, {Kept} still referenced, {Failed} failed (will retry)")]
        public static partial void Pass(ILogger logger, int deleted, int kept, int failed);
    }
}

/// <summary>Runs cleanup passes in the background at the configured interval.</summary>
public sealed class FileCleanupService(FileCleanup cleanup, ServerOptions options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.CleanupInterval <= TimeSpan.Zero)
            return;
        using var timer = new PeriodicTimer(options.CleanupInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await cleanup.RunAsync(dryRun: false, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A pass that could not run (the store unreachable, say) is simply tried at the next tick.
            }
        }
    }
}
