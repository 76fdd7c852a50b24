using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Slipway.Wire;

namespace Slipway.Server.Storage.Documents;

/// <summary>
/// A worker (an agent's slot) as its last report left it. Its store key is <c>Tenants.WorkerKey</c>, not <see cref="Id"/>
/// (agents choose their ids, so two tenants may share one).
/// </summary>
public sealed record WorkerDocument : IDocument<WorkerDocument>
{
    public static Collection Collection => Collection.Workers;

    public static JsonTypeInfo<WorkerDocument> JsonInfo => DocumentJsonContext.Default.WorkerDocument;

    /// <summary>The id the agent chose.</summary>
    [JsonPropertyName(DocumentFields.Id)] public string Id { get; init; } = "";

    /// <summary><c>{id, name}</c> as the reference server keeps it; <c>AccessControl</c> also reads a plain id.</summary>
    [JsonPropertyName(DocumentFields.User)] public JsonNode? User { get; init; }

    /// <summary><c>{id, name}</c>; <c>Tenants.Of</c> reads either form.</summary>
    [JsonPropertyName(DocumentFields.Company)] public JsonNode? Company { get; init; }

    [JsonPropertyName(WorkerFields.Ip)] public string? Ip { get; init; }

    [JsonPropertyName(WorkerFields.RegisterTime)] public string? RegisterTime { get; init; }

    [JsonPropertyName(WorkerFields.LastActivityTime)] public string? LastActivityTime { get; init; }

    [JsonPropertyName(WorkerFields.LastReportTime)] public string? LastReportTime { get; init; }

    [JsonPropertyName(WorkerFields.Timeout)] public long? Timeout { get; init; }

    [JsonPropertyName(DocumentFields.Tags)] public IReadOnlyList<string>? Tags { get; init; }

    [JsonPropertyName(DocumentFields.SystemTags)] public IReadOnlyList<string>? SystemTags { get; init; }

    [JsonPropertyName(WorkerFields.Queues)] public IReadOnlyList<string>? Queues { get; init; }

    [JsonPropertyName(WorkerFields.Queue)] public string? Queue { get; init; }

    [JsonPropertyName(WorkerFields.Task)] public WorkerTask? Task { get; init; }

    [JsonPropertyName(WorkerFields.MachineStats)] public JsonObject? MachineStats { get; init; }

    [JsonPropertyName(WorkerFields.Interruption)] public string? Interruption { get; init; }

    [JsonPropertyName(WorkerFields.InterruptionTime)] public string? InterruptionTime { get; init; }

    // Settable: System.Text.Json fills extension data after construction, which an init-only property does not allow. JsonElement
    // values rather than a JsonObject, which the source generator writes as a nested value instead of as properties.
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>The task a worker runs, as its document names it.</summary>
public sealed record WorkerTask
{
    [JsonPropertyName(DocumentFields.Id)] public string? Id { get; init; }

    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}
