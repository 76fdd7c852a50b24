namespace Slipway.Server.Storage.Sqlite;

/// <summary>The SQLite schema as ordered steps; append new steps, never edit applied ones.</summary>
public static class SqliteSchema
{
    private static string DocTable(string name) =>
        $"CREATE TABLE {name} (id TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL)";

    public static readonly IReadOnlyList<string> Steps =
    [
        DocTable("settings"),
        DocTable("users"),
        DocTable("credentials"),
        DocTable("projects"),
        DocTable("tasks"),
        DocTable("queues"),
        "CREATE UNIQUE INDEX projects_name ON projects (json_extract(doc, '$.name'))",
        "CREATE UNIQUE INDEX queues_name ON queues (json_extract(doc, '$.name'))",
        "CREATE INDEX tasks_project_status ON tasks (json_extract(doc, '$.project'), json_extract(doc, '$.status'))",
        "CREATE INDEX tasks_status ON tasks (json_extract(doc, '$.status'))",
        "CREATE INDEX tasks_parent ON tasks (json_extract(doc, '$.parent'))",
        "CREATE INDEX tasks_last_update ON tasks (json_extract(doc, '$.last_update'))",
        "CREATE INDEX credentials_user ON credentials (json_extract(doc, '$.user'))",
        """
        CREATE TABLE queue_entries (
            pos INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, task TEXT NOT NULL, added TEXT NOT NULL)
        """,
        "CREATE INDEX queue_entries_queue ON queue_entries (queue, pos)",
        "CREATE INDEX queue_entries_task ON queue_entries (task)",
        """
        CREATE TABLE scalar_series (
            id INTEGER PRIMARY KEY, task TEXT NOT NULL, metric TEXT NOT NULL, variant TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0, min_iter INTEGER, max_iter INTEGER)
        """,
        "CREATE UNIQUE INDEX scalar_series_key ON scalar_series (task, metric, variant)",
        """
        CREATE TABLE scalars (
            series INTEGER NOT NULL, iter INTEGER NOT NULL, value REAL, ts INTEGER NOT NULL,
            PRIMARY KEY (series, iter)) WITHOUT ROWID
        """,
        """
        CREATE TABLE scalar_buckets (
            series INTEGER NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL,
            min_value REAL, min_iter INTEGER, min_ts INTEGER, max_value REAL, max_iter INTEGER, max_ts INTEGER,
            PRIMARY KEY (series, level, bucket)) WITHOUT ROWID
        """,
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, type TEXT NOT NULL, event_id TEXT,
            iter INTEGER NOT NULL, metric TEXT NOT NULL, variant TEXT NOT NULL, ts INTEGER NOT NULL, doc TEXT NOT NULL)
        """,
        "CREATE UNIQUE INDEX events_id ON events (task, event_id) WHERE event_id IS NOT NULL",
        "CREATE INDEX events_task_type ON events (task, type, ts, seq)",
        // Points move to chunks (one row per 1,024 iterations); the rows of scalars are moved at open.
        "CREATE TABLE scalar_chunks (series INTEGER NOT NULL, chunk INTEGER NOT NULL, points BLOB NOT NULL, PRIMARY KEY (series, chunk))",
        DocTable("models"),
        "CREATE INDEX models_task ON models (json_extract(doc, '$.task'))",
        "CREATE INDEX models_project ON models (json_extract(doc, '$.project'))",
        DocTable("cleanup"),
        "CREATE INDEX cleanup_due ON cleanup (json_extract(doc, '$.next_attempt'))",
        DocTable("workers"),
        DocTable("worker_stats"),
        "CREATE INDEX worker_stats_time ON worker_stats (json_extract(doc, '$.ts'))",
        // Counts a project's visible tasks (system tags without "archived"/"hidden") from the index alone.
        "CREATE INDEX tasks_project_system_tags ON tasks (json_extract(doc, '$.project'), json_extract(doc, '$.system_tags'))",
        // An ordered page walks a (key, id) index, within one project or across all, and stops at the page's end:
        // ties break on id in the key's direction.
        "DROP INDEX tasks_last_update",
        "CREATE INDEX tasks_last_update ON tasks (json_extract(doc, '$.last_update'), id)",
        "CREATE INDEX tasks_project_last_update ON tasks (json_extract(doc, '$.project'), json_extract(doc, '$.last_update'), id)",
        // Audit records' ids start with the time, so the newest come first in id order.
        DocTable("audit"),
        DocTable("file_owners"),
        // Project and queue names are unique within a tenant (documents from before tenants are the first tenant's).
        "DROP INDEX projects_name",
        "CREATE UNIQUE INDEX projects_name ON projects (coalesce(json_extract(doc, '$.company'), 'slipway'), json_extract(doc, '$.name'))",
        "DROP INDEX queues_name",
        "CREATE UNIQUE INDEX queues_name ON queues (coalesce(json_extract(doc, '$.company'), 'slipway'), json_extract(doc, '$.name'))",
        // Lookups by name alone keep an index of their own.
        "CREATE INDEX projects_by_name ON projects (json_extract(doc, '$.name'))",
        "CREATE INDEX queues_by_name ON queues (json_extract(doc, '$.name'))",
        // The autoscaler's state (one document per autoscaler) and its decision log, read newest first per autoscaler.
        DocTable("autoscalers"),
        DocTable("autoscaler_events"),
        "CREATE INDEX autoscaler_events_scaler ON autoscaler_events (json_extract(doc, '$.scaler'), id)",
        // Serving: endpoint names are unique within a tenant; statistics are read by endpoint and time.
        DocTable("serving_endpoints"),
        "CREATE UNIQUE INDEX serving_endpoints_name ON serving_endpoints (coalesce(json_extract(doc, '$.company'), 'slipway'), json_extract(doc, '$.name'))",
        DocTable("serving_containers"),
        DocTable("serving_stats"),
        "CREATE INDEX serving_stats_endpoint_time ON serving_stats (json_extract(doc, '$.endpoint'), json_extract(doc, '$.ts'))",
        // Saved views of the experiments tables, read per tenant and table.
        DocTable("views"),
        "CREATE INDEX views_table ON views (json_extract(doc, '$.company'), json_extract(doc, '$.table'))",
        // One-time enrollment tokens of autoscaled instances, found by launch when the instance ends.
        DocTable("autoscaler_enrollments"),
    ];
}
