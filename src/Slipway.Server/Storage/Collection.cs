namespace Slipway.Server.Storage;

/// <summary>The kinds of documents the metadata store keeps, one table each.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "A collection in the document-store sense (as in MongoDB, which the ClearML server uses), not a .NET collection type.")]
public enum Collection
{
    Settings,
    Users,
    Credentials,
    Projects,
    Tasks,
    Queues,
    Models,
    /// <summary>Files waiting to be removed from the blob store once nothing references them.</summary>
    Cleanup,
    Workers,
    /// <summary>One document per worker status report (its machine stats), for utilisation over time.</summary>
    WorkerStats,
    /// <summary>Security-relevant actions (sign-ins, keys, users and roles, deletions), append-only, for admins to read.</summary>
    Audit,
    /// <summary>Who uploaded each file on the file server (its id is the path), so that files follow their tenant.</summary>
    FileOwners,
    /// <summary>One document per autoscaler: its instance records, backed-off offerings and re-queue counts, so that a restart adopts what it launched.</summary>
    Autoscalers,
    /// <summary>The autoscalers' decisions with their reason codes, append-only; ids start with the time.</summary>
    AutoscalerEvents,
    /// <summary>Inference endpoints: name, versions bound to models, canary weights, keys (hashes only).</summary>
    ServingEndpoints,
    /// <summary>Inference hosts that registered, with their last status report (version states, request statistics).</summary>
    ServingContainers,
    /// <summary>One document per host status report and endpoint version, for metric history.</summary>
    ServingStats,
    /// <summary>Named views of the experiments tables (sort and columns), shared within a tenant.</summary>
    Views,
    /// <summary>One-time enrollment tokens of autoscaled instances (hashes only), each bound to one launch and the key pair it was exchanged for.</summary>
    AutoscalerEnrollments,
}
