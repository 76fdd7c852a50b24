using System.Text.Json.Nodes;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Domain;

/// <summary>
/// One stored counter that moves whenever who may do what changes: a key revoked, a user disabled, deleted or given another
/// role, a project made, deleted, renamed or shared. Each request reads it, and whatever was worked out from keys, users and
/// projects' grants at the same value still holds, on every replica.
/// </summary>
public sealed class SecurityEpoch(IDocumentStore docs)
{
    private const string Setting = "security_epoch";

    public async Task<long> ReadAsync(CancellationToken ct) =>
        await docs.GetAsync(Collection.Settings, Setting, ct) is { } stored ? Json.GetLong(stored.Body["value"]) ?? 0 : 0;

    /// <summary>Moves the counter; not cancellable, since the change it announces has been made.</summary>
    public async Task BumpAsync()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var stored = await docs.GetAsync(Collection.Settings, Setting);
            var body = new JsonObject { ["id"] = Setting, ["value"] = (Json.GetLong(stored?.Body["value"]) ?? 0) + 1 };
            if (stored is null ? await docs.InsertAsync(Collection.Settings, Setting, body) : await docs.ReplaceAsync(Collection.Settings, stored, body))
                return;
        }
        throw new InvalidOperationException("could not record a security change: the epoch kept changing under us");
    }
}
