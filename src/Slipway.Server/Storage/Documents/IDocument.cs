using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Slipway.Server.Storage.Documents;

/// <summary>
/// A stored entity as a record: the fields Slipway reads and writes are properties, every other field stays in
/// <see cref="Extra"/> (<c>[JsonExtensionData]</c>), so a document written by a newer server, the SDK or a
/// migration keeps what this code does not model.
/// </summary>
public interface IDocument<TSelf> where TSelf : IDocument<TSelf>
{
    /// <summary>The collection documents of this kind are stored in.</summary>
    static abstract Collection Collection { get; }

    /// <summary>The source-generated contract (<see cref="DocumentJsonContext"/>).</summary>
    static abstract JsonTypeInfo<TSelf> JsonInfo { get; }

    string Id { get; }

    /// <summary>The fields this record does not model, as stored.</summary>
    Dictionary<string, JsonElement>? Extra { get; }
}
