using System.Globalization;
using System.Text.Json.Nodes;
using Slipway.Server.Core;

namespace Slipway.Server.Domain.Autoscalers;

/// <summary>
/// Reads the state an autoscaler writes on the server (its instances and what they cost), for /metrics and the web UI alike.
/// </summary>
public static class AutoscalerState
{
    public sealed record Instance(string Resource, string Status, decimal Price, DateTimeOffset? LaunchedAt)
    {
        public bool Live => Status is "requested" or "booting" or "ready" or "draining";
    }

    public static IEnumerable<Instance> Instances(JsonObject state) =>
        (state["instances"] as JsonArray ?? []).OfType<JsonObject>().Select(i => new Instance(
            Json.GetString(i, "resource") ?? "", Json.GetString(i, "status") ?? "", (decimal)(Json.GetDouble(i["price_usd_per_hour"]) ?? 0),
            DateTimeOffset.TryParse(Json.GetString(i, "launched_at"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null));

    /// <summary>The month's spend as the autoscaler counts it: ended instances' sum plus live ones' time × price.</summary>
    public static decimal MonthSpend(JsonObject state, DateTimeOffset now) =>
        (decimal)(Json.GetDouble(state["spent_usd"]) ?? 0)
        + Instances(state).Where(i => i.Live && i.LaunchedAt is not null).Sum(i => i.Price * (decimal)Math.Max(0, (now - i.LaunchedAt!.Value).TotalHours));
}
