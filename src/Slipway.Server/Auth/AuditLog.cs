using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Auth;

/// <summary>
/// The record of security-relevant actions: sign-ins (and failed ones), keys made and revoked, users made, changed and
/// deleted, permission changes, deletions. Append-only through the API; admins read it with <c>audit.get_all</c>.
/// </summary>
public sealed class AuditLog(IDocumentStore docs, TimeProvider clock)
{
    /// <summary>Writes one record; not cancellable, since the action it records has already happened.</summary>
    /// <param name="company">The tenant the record belongs to, when there is no actor (a failed sign-in); "" when none is known.</param>
    public async Task RecordAsync(string action, Identity? actor, string? address, JsonObject? details = null, string? company = null)
    {
        var now = clock.GetUtcNow();
        // The id begins with the time so that id order is time order, and ends with randomness so replicas never collide.
        var id = $"{now.UtcTicks:D19}-{Guid.NewGuid():N}"[..36];
        await docs.InsertAsync(Collection.Audit, id, new JsonObject
        {
            ["id"] = id,
            ["time"] = Json.Timestamp(now),
            ["action"] = action,
            ["user"] = actor?.User,
            ["user_name"] = actor?.UserName,
            ["company"] = actor?.Company ?? company ?? "",
            ["address"] = address,
            ["details"] = details ?? [],
        }, CancellationToken.None);
    }
}
