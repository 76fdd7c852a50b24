using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Api;

/// <summary>The answer of the *_many endpoints: each id is tried on its own; one that fails does not stop the rest.</summary>
public static class BulkResult
{
    /// <param name="each">Does the work for one id; returns what the succeeded entry adds beside the id.</param>
    public static async Task<JsonObject> RunAsync(IEnumerable<string> ids, Func<string, Task<JsonObject>> each)
    {
        var succeeded = new JsonArray();
        var failed = new JsonArray();
        foreach (var id in ids)
        {
            try
            {
                var entry = await each(id);
                entry["id"] = id;
                succeeded.Add(entry);
            }
            catch (ApiException e)
            {
                failed.Add(new JsonObject { ["id"] = id, ["error"] = new JsonObject { ["codes"] = new JsonArray(e.Code, e.Subcode), ["msg"] = e.Message } });
            }
        }
        return new JsonObject { ["succeeded"] = succeeded, ["failed"] = failed };
    }
}
