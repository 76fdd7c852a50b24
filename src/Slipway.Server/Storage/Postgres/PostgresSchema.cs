namespace Slipway.Server.Storage.Postgres;

/// <summary>The PostgreSQL schema as ordered steps; append new steps, never edit applied ones.</summary>
public static class PostgresSchema
{
    private static string DocTable(string name) =>
        $"CREATE TABLE {name} (id TEXT PRIMARY KEY, version BIGINT NOT NULL, doc JSONB NOT NULL)";

    public static readonly IReadOnlyList<string> Steps =
    [
        DocTable("settings"),
        DocTable("users"),
        DocTable("credentials"),
        DocTable("projects"),
        DocTable("tasks"),
        DocTable("queues"),
        "CREATE UNIQUE INDEX projects_name ON projects ((doc #>> '{name}'))",
        "CREATE UNIQUE INDEX queues_name ON queues ((doc #>> '{name}'))",
        "CREATE INDEX tasks_project_status ON tasks ((doc #>> '{project}'), (doc #>> '{status}'))",
        "CREATE INDEX tasks_status ON tasks ((doc #>> '{status}'))",
        "CREATE INDEX tasks_parent ON tasks ((doc #>> '{parent}'))",
        "CREATE INDEX tasks_last_update ON tasks ((doc #> '{last_update}'))",
        "CREATE INDEX credentials_user ON credentials ((doc #>> '{user}'))",
        "CREATE TABLE queue_entries (pos BIGSERIAL PRIMARY KEY, queue TEXT NOT NULL, task TEXT NOT NULL, added TEXT NOT NULL)",
        "CREATE INDEX queue_entries_queue ON queue_entries (queue, pos)",
        "CREATE INDEX queue_entries_task ON queue_entries (task)",
        """
        CREATE TABLE scalar_series (
            id BIGSERIAL PRIMARY KEY, task TEXT NOT NULL, metric TEXT NOT NULL, variant TEXT NOT NULL,
            count BIGINT NOT NULL DEFAULT 0, min_iter BIGINT, max_iter BIGINT)
        """,
        "CREATE UNIQUE INDEX scalar_series_key ON scalar_series (task, metric, variant)",
        "CREATE TABLE scalars (series BIGINT NOT NULL, iter BIGINT NOT NULL, value DOUBLE PRECISION, ts BIGINT NOT NULL, PRIMARY KEY (series, iter))",
        """
        CREATE TABLE scalar_buckets (
            series BIGINT NOT NULL, level INTEGER NOT NULL, bucket BIGINT NOT NULL, count BIGINT NOT NULL,
            min_value DOUBLE PRECISION, min_iter BIGINT, min_ts BIGINT, max_value DOUBLE PRECISION, max_iter BIGINT, max_ts BIGINT,
            PRIMARY KEY (series, level, bucket))
        """,
        """
        CREATE TABLE events (
            seq BIGSERIAL PRIMARY KEY, task TEXT NOT NULL, type TEXT NOT NULL, event_id TEXT,
            iter BIGINT NOT NULL, metric TEXT NOT NULL, variant TEXT NOT NULL, ts BIGINT NOT NULL, doc JSONB NOT NULL)
        """,
        "CREATE UNIQUE INDEX events_id ON events (task, event_id) WHERE event_id IS NOT NULL",
        "CREATE INDEX events_task_type ON events (task, type, ts, seq)",
        // Task documents stay inline and uncompressed up to a page, so sorting and filtering on their fields
        // does not decompress or fetch each one from the TOAST table.
        "ALTER TABLE tasks ALTER COLUMN doc SET STORAGE EXTERNAL",
        "ALTER TABLE tasks SET (toast_tuple_target = 8160)",
        // Points move to chunks (one row per 1,024 iterations); the rows of scalars are moved at open.
        "CREATE TABLE scalar_chunks (series BIGINT NOT NULL, chunk BIGINT NOT NULL, points BYTEA NOT NULL, PRIMARY KEY (series, chunk))",
        "ALTER TABLE scalar_chunks ALTER COLUMN points SET STORAGE EXTERNAL",
        DocTable("models"),
        "CREATE INDEX models_task ON models ((doc #>> '{task}'))",
        "CREATE INDEX models_project ON models ((doc #>> '{project}'))",
        DocTable("cleanup"),
        "CREATE INDEX cleanup_due ON cleanup ((doc #>> '{next_attempt}'))",
        DocTable("workers"),
        DocTable("worker_stats"),
        "CREATE INDEX worker_stats_time ON worker_stats (((doc #>> '{ts}')::numeric))",
        // An ordered page walks a (key, id) index, within one project or across all, and stops at the page's end. The
        // order is the one queries ask for descending (missing values last, ties by id); read backwards it is the
        // ascending one.
        "DROP INDEX tasks_last_update",
        "CREATE INDEX tasks_last_update ON tasks ((doc #> '{last_update}') DESC NULLS LAST, id DESC)",
        "CREATE INDEX tasks_project_last_update ON tasks ((doc #>> '{project}'), (doc #> '{last_update}') DESC NULLS LAST, id DESC)",
        // Audit records' ids start with the time, so the newest come first in id order.
        DocTable("audit"),
        DocTable("file_owners"),
        // Project and queue names are unique within a tenant (documents from before tenants are the first tenant's).
        "DROP INDEX projects_name",
        "CREATE UNIQUE INDEX projects_name ON projects (coalesce(doc #>> '{company}', 'slipway'), (doc #>> '{name}'))",
        "DROP INDEX queues_name",
        "CREATE UNIQUE INDEX queues_name ON queues (coalesce(doc #>> '{company}', 'slipway'), (doc #>> '{name}'))",
        // Lookups by name alone keep an index of their own.
        "CREATE INDEX projects_by_name ON projects ((doc #>> '{name}'))",
        "CREATE INDEX queues_by_name ON queues ((doc #>> '{name}'))",
        // The autoscaler's state (one document per autoscaler) and its decision log, read newest first per autoscaler.
        DocTable("autoscalers"),
        DocTable("autoscaler_events"),
        "CREATE INDEX autoscaler_events_scaler ON autoscaler_events ((doc #>> '{scaler}'), id)",
        // Serving: endpoint names are unique within a tenant; statistics are read by endpoint and time.
        DocTable("serving_endpoints"),
        "CREATE UNIQUE INDEX serving_endpoints_name ON serving_endpoints (coalesce(doc #>> '{company}', 'slipway'), (doc #>> '{name}'))",
        DocTable("serving_containers"),
        DocTable("serving_stats"),
        "CREATE INDEX serving_stats_endpoint_time ON serving_stats ((doc #>> '{endpoint}'), ((doc #>> '{ts}')::numeric))",
        // Saved views of the experiments tables, read per tenant and table.
        DocTable("views"),
        "CREATE INDEX views_table ON views ((doc #>> '{company}'), (doc #>> '{table}'))",
        // One-time enrollment tokens of autoscaled instances, found by launch when the instance ends.
        DocTable("autoscaler_enrollments"),
    ];
}
