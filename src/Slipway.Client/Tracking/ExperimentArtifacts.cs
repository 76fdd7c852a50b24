using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Slipway.Client.Tracking;

public sealed partial class Experiment
{
    /// <summary>
    /// Uploads a file, or a folder (as a zip), as an artifact named <paramref name="name"/>; a second upload
    /// under the same name replaces the first.
    /// </summary>
    public async Task<ArtifactInfo> UploadArtifactAsync(string name, string path, CancellationToken cancellationToken = default)
    {
        if (Directory.Exists(path))
        {
            var zip = Path.Combine(Path.GetTempPath(), $"slipway-artifact-{Guid.NewGuid():N}.zip");
            try
            {
                ZipFile.CreateFromDirectory(path, zip, CompressionLevel.Fastest, includeBaseDirectory: false);
                return await StoreArtifactAsync(name, zip, Path.GetFileName(Path.TrimEndingDirectorySeparator(path)) + ".zip", "folder", "application/zip",
                    $"folder of {Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Count()} files", cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(zip);
            }
        }
        if (!File.Exists(path))
            throw new SlipwayException($"artifact '{name}': {path} does not exist");
        return await StoreArtifactAsync(name, path, Path.GetFileName(path), "custom", ContentType(path), Path.GetFileName(path), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads an object, serialized as JSON, as an artifact named <paramref name="name"/>.</summary>
    public async Task<ArtifactInfo> UploadObjectArtifactAsync<T>(string name, T value, JsonSerializerOptions? json = null, CancellationToken cancellationToken = default)
    {
        var file = Path.Combine(Path.GetTempPath(), $"slipway-artifact-{Guid.NewGuid():N}.json");
        try
        {
            var text = JsonSerializer.Serialize(value, json ?? new JsonSerializerOptions { WriteIndented = true });
            await File.WriteAllTextAsync(file, text, cancellationToken).ConfigureAwait(false);
            return await StoreArtifactAsync(name, file, name + ".json", "JSON", "application/json", text.Length > 200 ? text[..200] : text, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private async Task<ArtifactInfo> StoreArtifactAsync(string name, string file, string fileName, string type, string contentType, string preview, CancellationToken ct)
    {
        string hash;
        await using (var stream = File.OpenRead(file))
            hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
        var uri = await Client.Files.UploadFileAsync(file, $"{StorageFolder}/artifacts/{ExperimentLog.Safe(name)}/{fileName}", OutputUri, null, ct).ConfigureAwait(false);
        var artifact = new JsonObject
        {
            ["key"] = name,
            ["type"] = type,
            ["mode"] = "output",
            ["uri"] = uri.ToString(),
            ["content_size"] = new FileInfo(file).Length,
            ["hash"] = hash,
            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["type_data"] = new JsonObject { ["preview"] = preview, ["content_type"] = contentType },
        };
        await Client.CallAsync("tasks.add_or_update_artifacts", new JsonObject { ["task"] = Id, ["artifacts"] = new JsonArray(artifact), ["force"] = true }, ct).ConfigureAwait(false);
        return ArtifactInfo.From(artifact);
    }

    /// <summary>
    /// Registers a model file (ONNX, zip, ...) as an output model of this run: uploaded under the task's folder,
    /// linked both ways, named after the file unless <paramref name="name"/> is given.
    /// </summary>
    public Task<ModelInfo> RegisterOutputModelAsync(string file, string? name = null, string? framework = null, long? iteration = null,
        IReadOnlyList<string>? tags = null, CancellationToken cancellationToken = default) =>
        Client.Models.RegisterAsync(new ModelRegistration
        {
            File = file,
            Name = name ?? Path.GetFileNameWithoutExtension(file),
            TaskId = Id,
            ProjectId = ProjectId,
            Framework = framework ?? FrameworkOf(file),
            Iteration = iteration,
            Tags = tags ?? [],
            RemoteFolder = $"{StorageFolder}/models",
            UploadTo = OutputUri,
        }, cancellationToken);

    /// <summary>Records a registered model as an input of this run (e.g. the weights it fine-tunes).</summary>
    public Task UseInputModelAsync(string modelId, string? name = null, CancellationToken cancellationToken = default) =>
        Client.CallAsync("tasks.add_or_update_model", new JsonObject
        {
            ["task"] = Id,
            ["name"] = name ?? "Input Model",
            ["model"] = modelId,
            ["type"] = "input",
        }, cancellationToken);

    private static string? FrameworkOf(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".onnx" => "ONNX",
        ".zip" => "ML.NET",
        ".pt" or ".pth" => "PyTorch",
        ".h5" or ".keras" => "Keras",
        ".pkl" => "Scikit-Learn",
        _ => null,
    };

    private static string ContentType(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".json" => "application/json",
        ".csv" => "text/csv",
        ".txt" or ".log" => "text/plain",
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".zip" => "application/zip",
        ".onnx" => "application/octet-stream",
        _ => "application/octet-stream",
    };
}
