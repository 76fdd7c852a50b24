using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Slipway.Wire;

namespace Slipway.Server.Storage.Documents;

/// <summary>A registered model (<c>models.model</c>): where its weights are and the task that made them.</summary>
public sealed record ModelDocument : IDocument<ModelDocument>
{
    public static Collection Collection => Collection.Models;

    public static JsonTypeInfo<ModelDocument> JsonInfo => DocumentJsonContext.Default.ModelDocument;

    [JsonPropertyName(DocumentFields.Id)] public string Id { get; init; } = "";

    [JsonPropertyName(DocumentFields.Name)] public string? Name { get; init; }

    [JsonPropertyName(ModelFields.Uri)] public string? Uri { get; init; }

    [JsonPropertyName(DocumentFields.User)] public string? User { get; init; }

    [JsonPropertyName(DocumentFields.Company)] public string? Company { get; init; }

    [JsonPropertyName(DocumentFields.Created)] public string? Created { get; init; }

    [JsonPropertyName(DocumentFields.LastUpdate)] public string? LastUpdate { get; init; }

    [JsonPropertyName(DocumentFields.Comment)] public string? Comment { get; init; }

    [JsonPropertyName(DocumentFields.Tags)] public IReadOnlyList<string>? Tags { get; init; }

    [JsonPropertyName(DocumentFields.SystemTags)] public IReadOnlyList<string>? SystemTags { get; init; }

    [JsonPropertyName(ModelFields.Framework)] public string? Framework { get; init; }

    [JsonPropertyName(ModelFields.Task)] public string? Task { get; init; }

    [JsonPropertyName(DocumentFields.Project)] public string? Project { get; init; }

    [JsonPropertyName(ModelFields.Parent)] public string? Parent { get; init; }

    [JsonPropertyName(ModelFields.Design)] public JsonObject? Design { get; init; }

    /// <summary>Layer names to label ids (integers, checked when set).</summary>
    [JsonPropertyName(ModelFields.Labels)] public JsonObject? Labels { get; init; }

    /// <summary>Entries by key, each <c>{key, type, value}</c>.</summary>
    [JsonPropertyName(DocumentFields.Metadata)] public JsonObject? Metadata { get; init; }

    /// <summary>Published: a ready model's file no longer changes.</summary>
    [JsonPropertyName(ModelFields.Ready)] public bool Ready { get; init; }

    [JsonPropertyName(ModelFields.LastIteration)] public long? LastIteration { get; init; }

    // Settable: System.Text.Json fills extension data after construction, which an init-only property does not allow. JsonElement
    // values rather than a JsonObject, which the source generator writes as a nested value instead of as properties.
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    [JsonIgnore] public bool IsArchived => SystemTags?.Contains(DocumentFields.ArchivedTag) == true;
}
