using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Slipway.Wire;

namespace Slipway.Client;

/// <summary>The model registry: list, read, register, publish and download models.</summary>
public sealed class ModelsClient
{
    private readonly SlipwayClient _client;

    internal ModelsClient(SlipwayClient client) => _client = client;

    /// <summary>Reads one model.</summary>
    public async Task<ModelInfo> GetAsync(string modelId, CancellationToken cancellationToken = default)
    {
        var data = await _client.CallAsync("models.get_by_id", new JsonObject { ["model"] = modelId }, cancellationToken).ConfigureAwait(false);
        return ModelInfo.From(data["model"] as JsonObject ?? throw new SlipwayException($"models.get_by_id: no model {modelId}"));
    }

    /// <summary>Lists models, newest first.</summary>
    /// <param name="projectId">Only models of this project.</param>
    /// <param name="name">Only models whose name matches this regular expression.</param>
    /// <param name="taskId">Only models created by this task.</param>
    /// <param name="publishedOnly">Only published (ready) models.</param>
    /// <param name="pageSize">At most this many.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<ModelInfo>> ListAsync(string? projectId = null, string? name = null, string? taskId = null,
        bool publishedOnly = false, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject
        {
            ["order_by"] = new JsonArray("-" + DocumentFields.Created), ["page"] = 0, ["page_size"] = pageSize,
            [DocumentFields.SystemTags] = new JsonArray("-" + DocumentFields.ArchivedTag),
        };
        if (projectId is not null)
            body[DocumentFields.Project] = new JsonArray(projectId);
        if (name is not null)
            body[DocumentFields.Name] = name;
        if (taskId is not null)
            body[ModelFields.Task] = new JsonArray(taskId);
        if (publishedOnly)
            body[ModelFields.Ready] = true;
        var data = await _client.CallAsync("models.get_all", body, cancellationToken).ConfigureAwait(false);
        return data["models"] is JsonArray list ? list.OfType<JsonObject>().Select(ModelInfo.From).ToList() : [];
    }

    /// <summary>
    /// Registers a model file as an output of a task: creates the model, uploads the file to the file server
    /// under the task's folder and links it to the task. Returns the model.
    /// </summary>
    public async Task<ModelInfo> RegisterAsync(ModelRegistration registration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (!File.Exists(registration.File))
            throw new SlipwayException($"the model file {registration.File} does not exist");
        var fileName = Path.GetFileName(registration.File);
        var create = new JsonObject
        {
            [DocumentFields.Name] = registration.Name,
            [ModelFields.Uri] = "",
            [ModelFields.Framework] = registration.Framework,
            [ModelFields.Labels] = new JsonObject(),
            [ModelFields.Ready] = false,
            ["public"] = false,
            [DocumentFields.Comment] = registration.Comment ?? (registration.TaskId is null ? "" : $"Created by task id: {registration.TaskId}"),
            [DocumentFields.Tags] = registration.Tags.ToJsonArray(),
        };
        if (registration.ProjectId is not null)
            create[DocumentFields.Project] = registration.ProjectId;
        if (registration.TaskId is not null)
            create[ModelFields.Task] = registration.TaskId;
        var id = (await _client.CallAsync("models.create", create, cancellationToken).ConfigureAwait(false)).Str("id")
                 ?? throw new SlipwayException("models.create: the answer has no id");
        var folder = registration.RemoteFolder ?? $"models/{id}";
        var uri = await _client.Files.UploadFileAsync(registration.File, $"{folder}/{fileName}", registration.UploadTo, null, cancellationToken).ConfigureAwait(false);
        var edit = new JsonObject { ["model"] = id, [ModelFields.Uri] = uri.ToString() };
        if (registration.Iteration is { } iteration)
            edit[ModelFields.Iteration] = iteration;
        await _client.CallAsync("models.edit", edit, cancellationToken).ConfigureAwait(false);
        if (registration.TaskId is not null)
            await _client.CallAsync("tasks.add_or_update_model", new JsonObject
            {
                ["task"] = registration.TaskId,
                ["name"] = Path.GetFileNameWithoutExtension(fileName),
                ["model"] = id,
                ["type"] = "output",
            }, cancellationToken).ConfigureAwait(false);
        return await GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes a model (marks it ready).</summary>
    public Task PublishAsync(string modelId, CancellationToken cancellationToken = default) =>
        _client.CallAsync("models.set_ready", new JsonObject { ["model"] = modelId, ["publish_task"] = false }, cancellationToken);

    /// <summary>
    /// Downloads the model's file into a cache folder (default <c>~/.slipway/cache/models</c>) and returns its
    /// local path; a second call for the same model and URI returns the cached file without downloading.
    /// </summary>
    public async Task<string> GetLocalCopyAsync(string modelId, string? cacheFolder = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var model = await GetAsync(modelId, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(model.Uri) || !Uri.TryCreate(model.Uri, UriKind.Absolute, out var uri))
            throw new SlipwayException($"model {modelId} has no file (uri '{model.Uri}')");
        if (uri.IsFile)
            return File.Exists(uri.LocalPath) ? uri.LocalPath : throw new SlipwayException($"model {modelId} points at {uri.LocalPath}, which is not on this machine");
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(model.Uri)))[..16];
        var name = Uri.UnescapeDataString(uri.Segments[^1]);
        var path = Path.Combine(cacheFolder ?? ClientOptions.DefaultCacheFolder("models"), $"{modelId}-{key}", name);
        if (File.Exists(path))
            return path;
        await _client.Files.DownloadAsync(uri, path, progress, cancellationToken).ConfigureAwait(false);
        return path;
    }
}

/// <summary>What <see cref="ModelsClient.RegisterAsync"/> registers.</summary>
public sealed record ModelRegistration
{
    /// <summary>The local model file (ONNX, zip, ...).</summary>
    public required string File { get; init; }

    /// <summary>The model name.</summary>
    public required string Name { get; init; }

    /// <summary>The task that produced it.</summary>
    public string? TaskId { get; init; }

    /// <summary>The project it belongs to.</summary>
    public string? ProjectId { get; init; }

    /// <summary>The framework (e.g. <c>ONNX</c>, <c>ML.NET</c>).</summary>
    public string? Framework { get; init; }

    /// <summary>The iteration it was saved at.</summary>
    public long? Iteration { get; init; }

    /// <summary>A comment.</summary>
    public string? Comment { get; init; }

    /// <summary>Tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The folder on the file server; default <c>models/&lt;model id&gt;</c>.</summary>
    public string? RemoteFolder { get; init; }

    /// <summary>Another file server to upload to; default the configured one.</summary>
    public Uri? UploadTo { get; init; }
}

/// <summary>A registered model.</summary>
public sealed record ModelInfo
{
    /// <summary>The model id.</summary>
    public required string Id { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>Where its file is.</summary>
    public string? Uri { get; init; }

    /// <summary>The framework.</summary>
    public string? Framework { get; init; }

    /// <summary>The task that created it.</summary>
    public string? TaskId { get; init; }

    /// <summary>The project id.</summary>
    public string? ProjectId { get; init; }

    /// <summary>Published.</summary>
    public bool Ready { get; init; }

    /// <summary>Tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>When it was created.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>The iteration it was saved at.</summary>
    public long? Iteration { get; init; }

    /// <summary>Metadata entries by key.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The whole model document.</summary>
    public required JsonObject Raw { get; init; }

    internal static ModelInfo From(JsonObject m)
    {
        var metadata = new Dictionary<string, string>();
        if (m[DocumentFields.Metadata] is JsonObject entries)
            foreach (var (key, entry) in entries)
                metadata[key] = entry.Str("value") ?? "";
        return new ModelInfo
        {
            Id = m.Str(DocumentFields.Id) ?? "",
            Name = m.Str(DocumentFields.Name) ?? "",
            Uri = m.Str(ModelFields.Uri),
            Framework = m.Str(ModelFields.Framework),
            TaskId = m.Str(ModelFields.Task),
            ProjectId = m.Str(DocumentFields.Project),
            Ready = m.Bool(ModelFields.Ready) ?? false,
            Tags = m.Strings(DocumentFields.Tags),
            Created = m.Time(DocumentFields.Created),
            // The document keeps the iteration as last_iteration; "iteration" is only the name models.edit takes it by.
            Iteration = m.Long(ModelFields.LastIteration),
            Metadata = metadata,
            Raw = m,
        };
    }
}
