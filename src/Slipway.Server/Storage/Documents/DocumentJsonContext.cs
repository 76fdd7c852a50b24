using System.Text.Json.Serialization;

namespace Slipway.Server.Storage.Documents;

/// <summary>
/// The one source-generated serializer of the typed documents. Null properties are left out when a record is
/// written whole (a new document); updates go through <see cref="DocumentJson.Apply"/>, which keeps the stored
/// form of every field the change did not touch, explicit nulls included.
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QueueDocument))]
[JsonSerializable(typeof(ModelDocument))]
[JsonSerializable(typeof(ProjectDocument))]
[JsonSerializable(typeof(UserDocument))]
[JsonSerializable(typeof(WorkerDocument))]
[JsonSerializable(typeof(TaskDocument))]
public sealed partial class DocumentJsonContext : JsonSerializerContext;
