using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Domain.StoredFiles;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain.Tasks;

/// <summary>
/// Deleting a task: its queue entries, events and document go, its output models too when asked (unless
/// another task uses one as input), and the files they pointed at are handed to <see cref="FileCleanup"/>.
/// </summary>
public sealed class TaskDeletion(IDocumentStore docs, IEventStore events, IQueueEntryStore queueEntries, FileCleanup cleanup, FilesPort filesPort)
{
    public async Task DeleteAsync(StoredDoc task, bool deleteOutputModels, CancellationToken ct)
    {
        var port = await filesPort.All;
        var paths = FileReferences.PathsIn(task.Body, port);
        foreach (var image in await events.GetEventsAsync(new EventQuery([task.Id], ["training_debug_image"]) { Limit = 100_000 }, ct))
            paths.UnionWith(FileReferences.PathsIn(JsonNode.Parse(image.Doc), port));
        if (deleteOutputModels)
        {
            foreach (var modelId in (Json.Get(task.Body, "models.output") as JsonArray ?? []).Select(m => m?["model"] is JsonValue v ? v.GetValue<string>() : null).OfType<string>())
            {
                var users = await docs.FindAsync(Collection.Tasks, new DocQuery { Take = 2 }.Where(new DocContains(modelId)), ct);
                if (users.Any(u => u.Id != task.Id) || await docs.GetAsync(Collection.Models, modelId, ct) is not { } model)
                    continue;
                paths.UnionWith(FileReferences.PathsIn(model.Body, port));
                await docs.DeleteAsync(Collection.Models, modelId, ct);
            }
        }
        await queueEntries.RemoveEverywhereAsync(task.Id, ct);
        if (!await docs.DeleteAsync(Collection.Tasks, task.Id, ct))
            throw ApiException.InvalidTaskId(task.Id);
        await events.DeleteTaskEventsAsync(task.Id, ct);
        await cleanup.EnqueueAsync(paths, $"task {task.Id} deleted", ct);
    }
}
