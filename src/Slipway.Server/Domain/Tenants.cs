using System.Text.Json.Nodes;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain;

/// <summary>
/// Tenants (the API's <c>company</c>): every document belongs to one, names are unique within one, and nothing crosses
/// between them. The first tenant is the one a fresh server makes; documents stored before tenants had no company and are
/// its.
/// </summary>
public static class Tenants
{
    public const string Root = "slipway";

    /// <summary>A document's tenant; workers keep it (and their user) as an object with an id, as the reference server does.</summary>
    public static string Of(JsonObject doc) => (doc["company"] is JsonObject ? Json.GetString(doc, "company.id") : Json.GetString(doc, "company")) ?? Root;

    /// <summary>The documents of one tenant.</summary>
    public static DocFilter Filter(string company, string field = "company") => company == Root
        ? new AnyOf([new FieldIn(field, [Root]), new FieldMissing(field)])
        : new FieldIn(field, [company]);
}
