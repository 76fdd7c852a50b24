using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Slipway.Wire;

namespace Slipway.Server.Storage.Documents;

/// <summary>A queue (<c>queues.queue</c>); its entries live in the queue entry store, not here.</summary>
public sealed record QueueDocument : IDocument<QueueDocument>
{
    public static Collection Collection => Collection.Queues;

    public static JsonTypeInfo<QueueDocument> JsonInfo => DocumentJsonContext.Default.QueueDocument;

    [JsonPropertyName(DocumentFields.Id)] public string Id { get; init; } = "";

    [JsonPropertyName(DocumentFields.Name)] public string? Name { get; init; }

    [JsonPropertyName(QueueFields.DisplayName)] public string? DisplayName { get; init; }

    [JsonPropertyName(DocumentFields.User)] public string? User { get; init; }

    [JsonPropertyName(DocumentFields.Company)] public string? Company { get; init; }

    [JsonPropertyName(DocumentFields.Created)] public string? Created { get; init; }

    [JsonPropertyName(DocumentFields.LastUpdate)] public string? LastUpdate { get; init; }

    [JsonPropertyName(DocumentFields.Tags)] public IReadOnlyList<string>? Tags { get; init; }

    [JsonPropertyName(DocumentFields.SystemTags)] public IReadOnlyList<string>? SystemTags { get; init; }

    [JsonPropertyName(DocumentFields.Metadata)] public JsonObject? Metadata { get; init; }

    // Settable: System.Text.Json fills extension data after construction, which an init-only property does not allow. JsonElement
    // values rather than a JsonObject, which the source generator writes as a nested value instead of as properties.
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}
