using Slipway.Server;

namespace Slipway.TestSupport;

/// <summary>How a <see cref="TestServer"/> differs from the default one (SQLite, local files, fresh data folder, ports chosen by the system).</summary>
public sealed record TestServerSettings
{
    /// <summary>"sqlite" or "postgres"; on PostgreSQL the server gets a fresh database of the shared cluster.</summary>
    public string Engine { get; init; } = "sqlite";

    /// <summary>A data folder to use instead of a fresh one (to reopen another server's data); removed when the server is disposed.</summary>
    public string? DataDir { get; init; }

    /// <summary>A PostgreSQL connection string to use instead of a fresh database; dropped when the server is disposed.</summary>
    public string? Database { get; init; }

    /// <summary>The clock the server runs on (the system's when null).</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>Settings of the server itself (watchdog, file-server path, cleanup interval, blob store), applied at every start.</summary>
    public Action<ServerOptions>? Configure { get; init; }
}
