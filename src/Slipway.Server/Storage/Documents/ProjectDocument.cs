using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Slipway.Wire;

namespace Slipway.Server.Storage.Documents;

/// <summary>A project (<c>projects.project</c>): its full '/'-path name, its parent, and who may use it.</summary>
public sealed record ProjectDocument : IDocument<ProjectDocument>
{
    public static Collection Collection => Collection.Projects;

    public static JsonTypeInfo<ProjectDocument> JsonInfo => DocumentJsonContext.Default.ProjectDocument;

    [JsonPropertyName(DocumentFields.Id)] public string Id { get; init; } = "";

    /// <summary>The full path, <c>a/b/c</c>.</summary>
    [JsonPropertyName(DocumentFields.Name)] public string? Name { get; init; }

    [JsonPropertyName(ProjectFields.Basename)] public string? Basename { get; init; }

    [JsonPropertyName(ProjectFields.Description)] public string? Description { get; init; }

    [JsonPropertyName(DocumentFields.User)] public string? User { get; init; }

    [JsonPropertyName(DocumentFields.Company)] public string? Company { get; init; }

    [JsonPropertyName(DocumentFields.Created)] public string? Created { get; init; }

    [JsonPropertyName(DocumentFields.LastUpdate)] public string? LastUpdate { get; init; }

    [JsonPropertyName(DocumentFields.Tags)] public IReadOnlyList<string>? Tags { get; init; }

    [JsonPropertyName(DocumentFields.SystemTags)] public IReadOnlyList<string>? SystemTags { get; init; }

    [JsonPropertyName(ProjectFields.Parent)] public string? Parent { get; init; }

    [JsonPropertyName(ProjectFields.DefaultOutputDestination)] public string? DefaultOutputDestination { get; init; }

    /// <summary>Grants by user id or "*"; absent on projects from before permissions (open to every member).</summary>
    [JsonPropertyName(ProjectFields.Permissions)] public JsonObject? Permissions { get; init; }

    // Settable: System.Text.Json fills extension data after construction, which an init-only property does not allow. JsonElement
    // values rather than a JsonObject, which the source generator writes as a nested value instead of as properties.
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    [JsonIgnore] public bool IsHidden => SystemTags?.Contains(ProjectFields.HiddenTag) == true;
}
