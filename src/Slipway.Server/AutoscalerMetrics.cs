using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Server.Auth;
using Slipway.Server.Core;
using Slipway.Server.Domain;
using Slipway.Server.Domain.Autoscalers;
using Slipway.Server.Storage;
using Slipway.Server.Storage.Documents;

namespace Slipway.Server;

/// <summary>
/// The queue and autoscaler part of /metrics, read from the store at each scrape (the autoscalers write their state on the
/// server, so any replica answers): pending tasks and the oldest one's age per queue the caller sees, and, for admins, each
/// autoscaler's desired and actual instances per resource, launch failures, interruptions and spend rate.
/// </summary>
public sealed class AutoscalerMetrics(IDocumentStore docs, IQueueEntryStore entries, AccessControl access, TimeProvider clock)
{
    public async Task<string> ToPrometheusAsync(Identity caller, CancellationToken ct)
    {
        var text = new StringBuilder();
        var now = clock.GetUtcNow();
        var queues = await docs.FindAsync<QueueDocument>(new DocQuery().Where(await access.VisibleAsync(caller, Collection.Queues, ct)), ct);
        var waiting = queues.Count == 0 ? [] : await entries.ListManyAsync(queues.Select(q => q.Id).ToList(), ct);
        var named = queues.Select(q => (Name: q.Name ?? q.Id, Entries: waiting.GetValueOrDefault(q.Id) ?? [])).OrderBy(q => q.Name, StringComparer.Ordinal).ToList();
        Header(text, "slipway_queue_pending_tasks", "gauge", "Tasks waiting in the queue.");
        foreach (var (name, list) in named)
            text.Append(CultureInfo.InvariantCulture, $"slipway_queue_pending_tasks{{queue=\"{Escape(name)}\"}} {list.Count}\n");
        Header(text, "slipway_queue_oldest_pending_seconds", "gauge", "Age of the task that has waited longest in the queue (0 when it is empty).");
        foreach (var (name, list) in named)
        {
            var oldest = list.Select(e => DateTimeOffset.TryParse(e.Added, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : now)
                .DefaultIfEmpty(now).Min();
            text.Append(CultureInfo.InvariantCulture, $"slipway_queue_oldest_pending_seconds{{queue=\"{Escape(name)}\"}} {Math.Max(0, (now - oldest).TotalSeconds):0.###}\n");
        }
        if (!caller.IsAdmin)
            return text.ToString();

        var scalers = await docs.FindAsync(Collection.Autoscalers, new DocQuery().Where(Tenants.Filter(caller.Company)), ct);
        var rows = scalers.Select(d => (Scaler: Json.GetString(d.Body, "scaler") ?? d.Id, State: d.Body["state"] as JsonObject ?? []))
            .OrderBy(s => s.Scaler, StringComparer.Ordinal).ToList();
        Header(text, "slipway_autoscaler_desired_instances", "gauge", "Instances the autoscaler's policy keeps for the resource (booting or ready, not draining).");
        Per(rows, text, "slipway_autoscaler_desired_instances", (state, resource) => Json.GetLong(state["resources"]?[resource]?["desired"]) ?? 0);
        Header(text, "slipway_autoscaler_actual_instances", "gauge", "Instances of the resource whose agent has registered (ready or draining).");
        Per(rows, text, "slipway_autoscaler_actual_instances", (state, resource) => AutoscalerState.Instances(state).Count(i => i.Resource == resource && i.Status is "ready" or "draining"));
        Header(text, "slipway_autoscaler_booting_instances", "gauge", "Instances of the resource launched whose agent has not registered yet.");
        Per(rows, text, "slipway_autoscaler_booting_instances", (state, resource) => AutoscalerState.Instances(state).Count(i => i.Resource == resource && i.Status is "requested" or "booting"));
        Header(text, "slipway_autoscaler_launch_failures_total", "counter", "Launches the provider refused (capacity, quota, API errors).");
        Per(rows, text, "slipway_autoscaler_launch_failures_total", (state, resource) => Json.GetLong(state["launch_failures"]?[resource]) ?? 0);
        Header(text, "slipway_autoscaler_interruptions_total", "counter", "Instances lost: ended outside the autoscaler, reclaimed, or their agent gone.");
        Per(rows, text, "slipway_autoscaler_interruptions_total", (state, resource) => Json.GetLong(state["interruptions"]?[resource]) ?? 0);
        Header(text, "slipway_autoscaler_usd_per_hour", "gauge", "What the autoscaler's live instances cost per hour.");
        foreach (var (scaler, state) in rows)
            text.Append(CultureInfo.InvariantCulture, $"slipway_autoscaler_usd_per_hour{{scaler=\"{Escape(scaler)}\"}} {AutoscalerState.Instances(state).Where(i => i.Live).Sum(i => i.Price):0.####}\n");
        Header(text, "slipway_autoscaler_month_spend_usd", "gauge", "Spend of the autoscaler's instances this month (UTC), live ones counted to now.");
        foreach (var (scaler, state) in rows)
            text.Append(CultureInfo.InvariantCulture, $"slipway_autoscaler_month_spend_usd{{scaler=\"{Escape(scaler)}\"}} {AutoscalerState.MonthSpend(state, now):0.####}\n");
        return text.ToString();
    }

    private static void Per(List<(string Scaler, JsonObject State)> rows, StringBuilder text, string metric, Func<JsonObject, string, long> value)
    {
        foreach (var (scaler, state) in rows)
        {
            var resources = (state["resources"] as JsonObject ?? []).Select(r => r.Key).Concat(AutoscalerState.Instances(state).Select(i => i.Resource)).Distinct(StringComparer.Ordinal)
                .Order(StringComparer.Ordinal);
            foreach (var resource in resources)
                text.Append(CultureInfo.InvariantCulture, $"{metric}{{scaler=\"{Escape(scaler)}\",resource=\"{Escape(resource)}\"}} {value(state, resource)}\n");
        }
    }

    private static void Header(StringBuilder text, string metric, string type, string help) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {metric} {help}\n# TYPE {metric} {type}\n");

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
