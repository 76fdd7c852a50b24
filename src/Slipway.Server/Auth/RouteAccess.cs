using System.Collections.Frozen;
using Slipway.Server.Core;

namespace Slipway.Server.Auth;

/// <summary>
/// What each role may call, by endpoint. Every route is classified here (a test checks that none is left out), so a new
/// endpoint is refused to viewers and customers until someone decides otherwise.
/// </summary>
public static class RouteAccess
{
    /// <summary>Endpoints that change nothing: what a viewer may call.</summary>
    public static readonly FrozenSet<string> Reads = FrozenSet.Create(StringComparer.Ordinal,
        "server.info", "debug.ping", "auth.validate_token", "users.get_current_user", "users.get_all",
        "datasets.get_all", "datasets.get_versions", "datasets.get_lineage", "datasets.get_files",
        "events.get_task_log", "events.get_task_events", "events.scalar_metrics_iter_histogram", "events.multi_task_scalar_metrics_iter_histogram",
        "events.get_task_plots", "events.get_multi_task_plots", "events.debug_images", "events.get_task_single_value_metrics",
        "events.get_scalar_metrics_and_variants", "events.get_task_metrics", "events.get_task_latest_scalar_values",
        "files.get_cleanup", "models.get_by_id", "models.get_all", "models.get_all_ex",
        "projects.get_by_id", "projects.get_all", "projects.get_all_ex",
        "queues.get_all", "queues.get_all_ex", "queues.get_by_id", "queues.get_default", "queues.get_num_entries", "queues.peek_task",
        "tasks.get_hyper_params", "tasks.get_configurations", "tasks.get_configuration_names", "tasks.get_by_id", "tasks.get_by_id_ex",
        "tasks.get_all", "tasks.get_all_ex", "workers.get_all", "workers.get_stats", "workers.get_activity_report",
        "serving.get_endpoint", "serving.get_endpoints", "serving.get_endpoint_metrics_history", "serving.get_control_planes", "views.get_all");

    /// <summary>A user's own keys: every role manages its own (the handlers refuse anyone else's unless the caller is an admin).</summary>
    public static readonly FrozenSet<string> OwnKeys = FrozenSet.Create(StringComparer.Ordinal,
        "auth.login", "auth.create_credentials", "auth.get_credentials", "auth.revoke_credentials");

    /// <summary>
    /// Only admins (and the server's system identity): users, roles, the audit log, and the autoscaler, which starts and stops
    /// paid machines and re-queues or fails anyone's tasks, so its state and log are not for members to read or write.
    /// </summary>
    public static readonly FrozenSet<string> AdminOnly = FrozenSet.Create(StringComparer.Ordinal,
        "users.create", "users.update", "users.delete", "audit.get_all", "files.run_cleanup",
        "autoscaler.get_state", "autoscaler.set_state", "autoscaler.get_all", "autoscaler.add_events", "autoscaler.get_events",
        "autoscaler.release_task", "autoscaler.hold_task", "autoscaler.create_enrollment", "autoscaler.revoke_launch",
        "autoscaler.drain_workers");

    /// <summary>
    /// A customer runs published templates and reads its results: it clones, enqueues and reads tasks, and nothing else. Which
    /// tasks it may touch (published ones to clone, its own to run and read) is the entity check's to decide.
    /// </summary>
    public static readonly FrozenSet<string> Customer = FrozenSet.Create(StringComparer.Ordinal,
        "server.info", "debug.ping", "auth.validate_token", "users.get_current_user",
        "tasks.clone", "tasks.enqueue", "tasks.edit_hyper_params", "tasks.get_by_id", "tasks.get_all", "tasks.get_hyper_params",
        "events.get_task_log", "events.scalar_metrics_iter_histogram", "events.get_task_plots", "events.debug_images",
        "events.get_task_single_value_metrics", "events.get_task_latest_scalar_values", "queues.get_all", "queues.get_default");

    /// <summary>Throws 403 unless <paramref name="caller"/>'s role may call <paramref name="endpoint"/>.</summary>
    public static void Check(Identity caller, string endpoint)
    {
        var allowed = caller.Role switch
        {
            Roles.Admin or Roles.System => true,
            Roles.Member => !AdminOnly.Contains(endpoint),
            // An enrolled agent keeps the one key pair it was given: it makes no more.
            Roles.Agent => !AdminOnly.Contains(endpoint) && endpoint != "auth.create_credentials",
            Roles.Viewer => Reads.Contains(endpoint) || OwnKeys.Contains(endpoint),
            Roles.Customer => Customer.Contains(endpoint) || OwnKeys.Contains(endpoint),
            _ => false,
        };
        if (!allowed)
            throw Forbidden($"the {caller.Role} role may not call {endpoint}");
    }

    public static ApiException Forbidden(string why) => new(403, 0, $"Forbidden ({why})");
}
