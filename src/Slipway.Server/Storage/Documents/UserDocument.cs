using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Slipway.Wire;

namespace Slipway.Server.Storage.Documents;

/// <summary>A user: its name, role and tenant; key pairs are credentials documents of their own.</summary>
public sealed record UserDocument : IDocument<UserDocument>
{
    public static Collection Collection => Collection.Users;

    public static JsonTypeInfo<UserDocument> JsonInfo => DocumentJsonContext.Default.UserDocument;

    [JsonPropertyName(DocumentFields.Id)] public string Id { get; init; } = "";

    [JsonPropertyName(DocumentFields.Name)] public string? Name { get; init; }

    /// <summary>As stored; <c>Roles.Normalize</c> gives the role it stands for.</summary>
    [JsonPropertyName(UserFields.Role)] public string? Role { get; init; }

    /// <summary>The tenant; null on users from before tenants (the first tenant's).</summary>
    [JsonPropertyName(DocumentFields.Company)] public string? Company { get; init; }

    [JsonPropertyName(DocumentFields.Created)] public string? Created { get; init; }

    [JsonPropertyName(UserFields.Disabled)] public bool Disabled { get; init; }

    // Settable: System.Text.Json fills extension data after construction, which an init-only property does not allow. JsonElement
    // values rather than a JsonObject, which the source generator writes as a nested value instead of as properties.
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}
