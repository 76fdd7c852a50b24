using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Slipway.Wire;

namespace Slipway.Server.Storage.Documents;

/// <summary>
/// A task's lifecycle fields: who owns it, where it belongs, its status and what ran it. Only fields whose type the server
/// controls are modelled; the definition (name, script, execution, hyperparameters, ...), which tasks.edit stores as the
/// caller sent it, stays in <see cref="Extra"/>, so a task any client stored reads as its record.
/// </summary>
public sealed record TaskDocument : IDocument<TaskDocument>
{
    public static Collection Collection => Collection.Tasks;

    public static JsonTypeInfo<TaskDocument> JsonInfo => DocumentJsonContext.Default.TaskDocument;

    [JsonPropertyName(DocumentFields.Id)] public string Id { get; init; } = "";

    [JsonPropertyName(DocumentFields.User)] public string? User { get; init; }

    [JsonPropertyName(DocumentFields.Company)] public string? Company { get; init; }

    [JsonPropertyName(DocumentFields.Project)] public string? Project { get; init; }

    [JsonPropertyName(DocumentFields.SystemTags)] public IReadOnlyList<string>? SystemTags { get; init; }

    [JsonPropertyName(TaskFields.Status)] public string? Status { get; init; }

    [JsonPropertyName(TaskFields.StatusReason)] public string? StatusReason { get; init; }

    [JsonPropertyName(TaskFields.StatusMessage)] public string? StatusMessage { get; init; }

    [JsonPropertyName(TaskFields.StatusChanged)] public string? StatusChanged { get; init; }

    [JsonPropertyName(DocumentFields.Created)] public string? Created { get; init; }

    [JsonPropertyName(DocumentFields.LastUpdate)] public string? LastUpdate { get; init; }

    [JsonPropertyName(TaskFields.LastChange)] public string? LastChange { get; init; }

    [JsonPropertyName(TaskFields.Started)] public string? Started { get; init; }

    [JsonPropertyName(TaskFields.Completed)] public string? Completed { get; init; }

    [JsonPropertyName(TaskFields.LastWorker)] public string? LastWorker { get; init; }

    [JsonPropertyName(TaskFields.LastWorkerReport)] public string? LastWorkerReport { get; init; }

    [JsonPropertyName(TaskFields.EnqueueStatus)] public string? EnqueueStatus { get; init; }

    // Settable: System.Text.Json fills extension data after construction, which an init-only property does not allow. JsonElement
    // values rather than a JsonObject, which the source generator writes as a nested value instead of as properties.
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}
