using System.Text.Json.Nodes;
using Slipway.Server.Auth;

namespace Slipway.Server.Api;

/// <summary>server.info and debug.ping: unauthenticated, for health checks and the UI.</summary>
public sealed class ServerApi(string serverId)
{
    public void Map(RpcRouter router)
    {
        router.Add("server.info", Info, null, anonymous: true);
        router.Add("debug.ping", Ping, null, anonymous: true);
    }

    private ValueTask<JsonNode?> Info(RpcCall call) => ValueTask.FromResult<JsonNode?>(new JsonObject
    {
        ["version"] = TokenService.ServerVersion,
        ["build"] = "slipway",
        ["commit"] = typeof(ServerApi).Assembly.GetName().Version?.ToString() ?? "",
        ["uid"] = serverId,
        ["api_version"] = Envelope.ActualVersion,
    });

    private ValueTask<JsonNode?> Ping(RpcCall call)
    {
        var reply = (JsonObject)call.Body.DeepClone();
        reply["msg"] = "ClearML server";
        return ValueTask.FromResult<JsonNode?>(reply);
    }
}
