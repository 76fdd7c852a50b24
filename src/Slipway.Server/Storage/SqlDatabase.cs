using System.Data.Common;

namespace Slipway.Server.Storage;

/// <summary>An engine's connections and schema: reads run in parallel, writes go through <see cref="WriteAsync{T}"/>.</summary>
public abstract class SqlDatabase : IAsyncDisposable
{
    public abstract SqlDialect Dialect { get; }

    public abstract string Engine { get; }

    public abstract ValueTask<DbConnection> OpenReadAsync(CancellationToken ct);

    /// <summary>Runs <paramref name="work"/> in a transaction and commits it; the result is durable when the task completes.</summary>
    public abstract Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct);

    /// <summary>
    /// Runs <paramref name="work"/>, which builds indexes on the table, holding the table's index-build turn; false when
    /// another process holds it (nothing ran). The transaction is null where the engine builds indexes outside one.
    /// </summary>
    public virtual Task<bool> BuildIndexesAsync(string table, Func<DbConnection, DbTransaction?, Task> work, CancellationToken ct) =>
        // One writer: a build inside a write transaction is the only one, and blocks no one's write for longer than it runs.
        WriteAsync(async (conn, tx) =>
        {
            await work(conn, tx);
            return true;
        }, ct);

    /// <summary>Creates or upgrades the schema in place.</summary>
    public abstract Task<SchemaUpgrade> MigrateAsync(CancellationToken ct);

    public abstract bool IsUniqueViolation(Exception e);

    /// <summary>True when the engine rejected a query's input (a bad regular expression, say) rather than failed.</summary>
    public abstract bool IsBadQueryInput(Exception e);

    /// <summary>True when a statement was stopped for passing its command timeout.</summary>
    public virtual bool IsTimeout(Exception e) => false;

    public abstract ValueTask DisposeAsync();

    public static string Table(Collection collection) => collection switch
    {
        Collection.Settings => "settings",
        Collection.Users => "users",
        Collection.Credentials => "credentials",
        Collection.Projects => "projects",
        Collection.Tasks => "tasks",
        Collection.Queues => "queues",
        Collection.Models => "models",
        Collection.Cleanup => "cleanup",
        Collection.Workers => "workers",
        Collection.WorkerStats => "worker_stats",
        Collection.Audit => "audit",
        Collection.FileOwners => "file_owners",
        Collection.Autoscalers => "autoscalers",
        Collection.AutoscalerEvents => "autoscaler_events",
        Collection.ServingEndpoints => "serving_endpoints",
        Collection.ServingContainers => "serving_containers",
        Collection.ServingStats => "serving_stats",
        Collection.Views => "views",
        Collection.AutoscalerEnrollments => "autoscaler_enrollments",
        _ => throw new ArgumentOutOfRangeException(nameof(collection)),
    };
}
