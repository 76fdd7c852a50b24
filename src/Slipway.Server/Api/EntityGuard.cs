using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Storage;

namespace Slipway.Server.Api;

/// <summary>
/// Checks, before a handler runs, that the caller may touch every entity the request names: read access for the read
/// endpoints, write access for the others. The fields that name entities are the API's own (task, tasks, ids, model, project,
/// queue, worker, …), so one table here covers every endpoint. An entity the caller may not even read answers as if it did
/// not exist (the endpoint's usual invalid-id error, so other tenants' and private projects' ids reveal nothing); one it may
/// read but not change answers 403. Lists are not checked here: they show only what the caller may read
/// (<see cref="AccessControl.VisibleAsync"/>).
/// </summary>
public sealed class EntityGuard(IDocumentStore docs, AccessControl access)
{
    public static readonly HashSet<string> Lists =
    [
        "tasks.get_all", "tasks.get_all_ex", "models.get_all", "models.get_all_ex", "projects.get_all", "projects.get_all_ex",
        "queues.get_all", "queues.get_all_ex", "workers.get_all", "datasets.get_all", "workers.get_stats", "workers.get_activity_report",
    ];

    /// <summary>Endpoints that change their queue itself; the other queue endpoints only use it.</summary>
    private static readonly HashSet<string> QueueChanges = ["queues.update", "queues.delete"];

    /// <summary>Deleting a project and sharing it take its owner.</summary>
    private static readonly HashSet<string> OwnerChanges = ["projects.delete", "projects.set_permissions"];

    /// <summary>Endpoints that only read the entity they name although they make something new (a clone reads its source).</summary>
    private static readonly HashSet<string> ReadsSource = ["tasks.clone"];

    public async ValueTask CheckAsync(RpcCall call)
    {
        if (call.Identity is not { } caller || caller.Role == Roles.System || Lists.Contains(call.Endpoint) || !access.Enabled)
            return;
        var service = call.Endpoint[..call.Endpoint.IndexOf('.', StringComparison.Ordinal)];
        var need = RouteAccess.Reads.Contains(call.Endpoint) ? Level.Read : Level.Write;
        var events = service == "events";
        var taskCollection = events && Flag(call.Body, "model_events") ? Collection.Models : Collection.Tasks;
        foreach (var (field, collection) in Subjects(service, taskCollection))
        {
            var level = field switch
            {
                "queue" when !QueueChanges.Contains(call.Endpoint) => Level.Read,
                "task" when ReadsSource.Contains(call.Endpoint) => Level.Read,
                "parent" => Level.Read, // naming a parent only reads it (and must not reveal a private one)
                "project" when OwnerChanges.Contains(call.Endpoint) => Level.Owner,
                // An endpoint version only serves its model: reading it is enough.
                "model" when service == "serving" => Level.Read,
                // An auto-update rule only names the project its models come from.
                "project" when call.Endpoint == "serving.set_auto_update" => Level.Read,
                _ => need,
            };
            var ids = Ids(call.Body[field]).Distinct(StringComparer.Ordinal).ToList();
            RequestLimits.CheckCount(field, ids.Count);
            if (collection == Collection.Workers)
            {
                foreach (var id in ids)
                    await RequireAsync(caller, collection, Tenants.WorkerKey(caller.Company, id), level, call.Aborted);
            }
            else if (ids.Count == 1)
                await RequireAsync(caller, collection, ids[0], level, call.Aborted);
            else
                await RequireAllAsync(caller, collection, ids, level, call.Aborted);
        }
        if (call.Endpoint == "events.debug_images" && call.Body["metrics"] is JsonArray metrics)
        {
            foreach (var metric in metrics.OfType<JsonObject>())
            {
                foreach (var id in Ids(metric["task"]))
                    await RequireAsync(caller, taskCollection, id, Level.Read, call.Aborted);
            }
        }
    }

    /// <summary>Throws unless the caller has <paramref name="need"/> on the entity; an unknown id is left to the handler to refuse.</summary>
    public async ValueTask RequireAsync(Identity caller, Collection collection, string id, Level need, CancellationToken ct)
    {
        // An id that no store could hold (a lone surrogate, NUL) names nothing: the handler refuses it.
        if (id.Length == 0 || StorableText.Problem(id) is not null || await docs.GetAsync(collection, id, ct) is not { } doc)
            return;
        Check(await access.LevelAsync(caller, collection, doc.Body, ct), need, collection, id);
    }

    /// <summary>
    /// <see cref="RequireAsync"/> for many ids (a bulk delete, a list filter): read in batches, so a long list costs a few
    /// queries rather than one per id.
    /// </summary>
    private async ValueTask RequireAllAsync(Identity caller, Collection collection, List<string> ids, Level need, CancellationToken ct)
    {
        foreach (var batch in ids.Where(id => id.Length > 0 && StorableText.Problem(id) is null).Chunk(500))
        {
            foreach (var doc in await docs.FindAsync(collection, new DocQuery().Where(new FieldIn("id", batch)), ct))
                Check(await access.LevelAsync(caller, collection, doc.Body, ct), need, collection, doc.Id);
        }
    }

    private static void Check(Level level, Level need, Collection collection, string id)
    {
        if (level == Level.None)
            throw Hidden(collection, id);
        if (level < need)
            throw RouteAccess.Forbidden($"{AccessControl.Name(need)} access to {Noun(collection)} {id} is needed; you have {AccessControl.Name(level)}");
    }

    /// <summary>The request fields that name entities, per service.</summary>
    private static IEnumerable<(string Field, Collection Collection)> Subjects(string service, Collection tasks)
    {
        yield return ("task", tasks);
        yield return ("tasks", tasks);
        yield return ("project", Collection.Projects);
        yield return ("queue", Collection.Queues);
        yield return ("new_task_project", Collection.Projects);
        yield return ("dataset", Collection.Projects);
        yield return ("version", Collection.Tasks);
        if (service == "workers")
        {
            yield return ("worker", Collection.Workers);
        }
        else if (service == "models")
        {
            yield return ("model", Collection.Models);
            yield return ("ids", Collection.Models);
            yield return ("parent", Collection.Models);
        }
        else if (service == "tasks")
        {
            yield return ("ids", Collection.Tasks);
            yield return ("parent", Collection.Tasks);
        }
        else if (service == "events")
        {
            yield return ("model", Collection.Models);
        }
        else if (service == "serving")
        {
            yield return ("endpoint", Collection.ServingEndpoints);
            yield return ("model", Collection.Models);
        }
    }

    private static IEnumerable<string> Ids(JsonNode? node) => node switch
    {
        JsonValue v => Text(v) is { } id ? [id] : [],
        JsonArray a => a.OfType<JsonValue>().Select(Text).OfType<string>(),
        _ => [],
    };

    /// <summary>A string value; null for other kinds and for text no string can hold (a lone surrogate), which names nothing.</summary>
    private static string? Text(JsonValue value)
    {
        if (value.GetValueKind() != JsonValueKind.String)
            return null;
        try
        {
            return value.GetValue<string>();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static bool Flag(JsonObject body, string field) => body[field] is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    public static ApiException Hidden(Collection collection, string id) => collection switch
    {
        Collection.Tasks => ApiException.InvalidTaskId(id),
        Collection.Projects => ApiException.InvalidProjectId(id),
        Collection.Queues => ApiException.InvalidQueueId(id),
        Collection.Models => ApiException.InvalidModelId(id),
        Collection.ServingEndpoints => ServingApi.InvalidEndpointId(id),
        _ => ApiException.InvalidId($"Invalid id (id={id})"),
    };

    private static string Noun(Collection collection) => collection switch
    {
        Collection.Tasks => "task",
        Collection.Projects => "project",
        Collection.Queues => "queue",
        Collection.Models => "model",
        Collection.Workers => "worker",
        Collection.ServingEndpoints => "endpoint",
        _ => "entity",
    };
}
