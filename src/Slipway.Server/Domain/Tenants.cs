using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain;

/// <summary>
/// Tenants (the API's <c>company</c>): every document belongs to one, names are unique within one, and nothing crosses
/// between them. The first tenant is the one a fresh server makes. Every task, project, model, queue, user and worker
/// Slipway has ever stored names its company (the caller's, which was always the first tenant's before tenants), so a
/// list's filter is one equality; a document read by id without one counts as the first tenant's.
/// </summary>
public static class Tenants
{
    public const string Root = "slipway";

    /// <summary>A document's tenant; workers keep it (and their user) as an object with an id, as the reference server does.</summary>
    public static string Of(JsonObject doc) => (doc["company"] is JsonObject ? Json.GetString(doc, "company.id") : Json.GetString(doc, "company")) ?? Root;

    /// <summary>The tenant of a typed document by its <c>company</c> field.</summary>
    public static string Of(string? company) => company ?? Root;

    /// <summary>The documents of one tenant.</summary>
    public static DocFilter Filter(string company, string field = "company") => new FieldIn(field, [company]);

    /// <summary>
    /// The documents of one tenant where older ones may not name theirs (worker reports before tenants): those count as
    /// the first tenant's.
    /// </summary>
    public static DocFilter FilterWithLegacy(string company, string field = "company") =>
        company == Root ? new AnyOf([Filter(company, field), new FieldMissing(field)]) : Filter(company, field);

    /// <summary>
    /// The store key of a worker: agents pick their ids (often the host name), so two tenants can use the same one. The first
    /// tenant's workers keep their id as the key (as before tenants); another tenant's is prefixed with the tenant and a
    /// separator that worker ids may not contain (<see cref="IsWorkerId"/>).
    /// </summary>
    public static string WorkerKey(string company, string worker) => company == Root ? worker : company + WorkerSeparator + worker;

    /// <summary>Worker ids are the agents' to choose, but not with control characters (which would let one spell another tenant's key).</summary>
    public static bool IsWorkerId(string worker) => worker.Length > 0 && !worker.Any(char.IsControl);

    private const char WorkerSeparator = '\u001f';
}
