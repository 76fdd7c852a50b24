using System.Text.Json.Nodes;
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

    /// <summary>The documents of one tenant.</summary>
    public static DocFilter Filter(string company, string field = "company") => new FieldIn(field, [company]);
}
