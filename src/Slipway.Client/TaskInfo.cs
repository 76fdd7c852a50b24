using System.Text.Json.Nodes;
using Slipway.Wire;

namespace Slipway.Client;

/// <summary>A task (one experiment run, or one dataset version) as the server holds it.</summary>
public sealed record TaskInfo
{
    /// <summary>The task id.</summary>
    public required string Id { get; init; }

    /// <summary>The task name.</summary>
    public required string Name { get; init; }

    /// <summary>created, queued, in_progress, stopped, completed, failed, published, closed.</summary>
    public required string Status { get; init; }

    /// <summary>Why the status last changed (e.g. the exception of a failed run).</summary>
    public string? StatusReason { get; init; }

    /// <summary>A transient message next to the status (e.g. <c>stopping</c>).</summary>
    public string? StatusMessage { get; init; }

    /// <summary>training, testing, data_processing, ...</summary>
    public string? Type { get; init; }

    /// <summary>The project id.</summary>
    public string? ProjectId { get; init; }

    /// <summary>User tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>System tags (e.g. <c>development</c>, <c>archived</c>, <c>dataset</c>).</summary>
    public IReadOnlyList<string> SystemTags { get; init; } = [];

    /// <summary>The task this one was cloned from.</summary>
    public string? Parent { get; init; }

    /// <summary>When the task was created.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>When it started running.</summary>
    public DateTimeOffset? Started { get; init; }

    /// <summary>When it ended.</summary>
    public DateTimeOffset? Completed { get; init; }

    /// <summary>The last change to the task.</summary>
    public DateTimeOffset? LastUpdate { get; init; }

    /// <summary>The highest iteration reported.</summary>
    public long? LastIteration { get; init; }

    /// <summary>The worker that last ran it.</summary>
    public string? LastWorker { get; init; }

    /// <summary>The comment (description).</summary>
    public string? Comment { get; init; }

    /// <summary>The code the task runs: repository, branch, commit, entry point, working directory, uncommitted diff.</summary>
    public CodeReference Code { get; init; } = new();

    /// <summary>Hyperparameters by <c>"Section/name"</c>.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Configuration objects by name (their text).</summary>
    public IReadOnlyDictionary<string, string> Configuration { get; init; } = new Dictionary<string, string>();

    /// <summary>Artifacts by key.</summary>
    public IReadOnlyDictionary<string, ArtifactInfo> Artifacts { get; init; } = new Dictionary<string, ArtifactInfo>();

    /// <summary>Input model ids by name.</summary>
    public IReadOnlyList<(string Name, string ModelId)> InputModels { get; init; } = [];

    /// <summary>Output model ids by name, oldest first.</summary>
    public IReadOnlyList<(string Name, string ModelId)> OutputModels { get; init; } = [];

    /// <summary>The whole task document, for fields not mapped here.</summary>
    public required JsonObject Raw { get; init; }

    /// <summary>True once the task can no longer change state by itself (stopped, completed, failed, published, closed).</summary>
    public bool IsFinished => Status is TaskStatusNames.Stopped or TaskStatusNames.Completed or TaskStatusNames.Failed or TaskStatusNames.Published
        or TaskStatusNames.Closed;

    internal static TaskInfo From(JsonObject t)
    {
        var parameters = new Dictionary<string, string>();
        if (t["hyperparams"] is JsonObject sections)
            foreach (var (section, items) in sections)
                if (items is JsonObject byName)
                    foreach (var (name, item) in byName)
                        parameters[$"{section}/{name}"] = item.Str("value") ?? "";
        var configuration = new Dictionary<string, string>();
        if (t["configuration"] is JsonObject configs)
            foreach (var (name, item) in configs)
                configuration[name] = item.Str("value") ?? "";
        var artifacts = new Dictionary<string, ArtifactInfo>();
        if (t.At("execution.artifacts") is JsonArray list)
            foreach (var a in list.OfType<JsonObject>())
                if (a.Str("key") is { } key)
                    artifacts[key] = ArtifactInfo.From(a);
        return new TaskInfo
        {
            Id = t.Str(DocumentFields.Id) ?? "",
            Name = t.Str(DocumentFields.Name) ?? "",
            Status = t.Str(TaskFields.Status) ?? TaskStatusNames.Created,
            StatusReason = t.Str(TaskFields.StatusReason),
            StatusMessage = t.Str(TaskFields.StatusMessage),
            Type = t.Str(TaskFields.Type),
            ProjectId = t.Str(DocumentFields.Project),
            Tags = t.Strings(DocumentFields.Tags),
            SystemTags = t.Strings(DocumentFields.SystemTags),
            Parent = t.Str("parent"),
            Created = t.Time(DocumentFields.Created),
            Started = t.Time(TaskFields.Started),
            Completed = t.Time(TaskFields.Completed),
            LastUpdate = t.Time(DocumentFields.LastUpdate),
            LastIteration = t.Long(TaskFields.LastIteration),
            LastWorker = t.Str(TaskFields.LastWorker),
            Comment = t.Str(DocumentFields.Comment),
            Code = CodeReference.From(t[TaskFields.Script]),
            Parameters = parameters,
            Configuration = configuration,
            Artifacts = artifacts,
            InputModels = ModelRefs(t.At("models.input")),
            OutputModels = ModelRefs(t.At("models.output")),
            Raw = t,
        };
    }

    private static List<(string, string)> ModelRefs(JsonNode? node) =>
        node is JsonArray a ? a.Select(m => (m.Str("name") ?? "", m.Str("model") ?? "")).Where(m => m.Item2.Length > 0).ToList() : [];
}

/// <summary>Where a task's code comes from.</summary>
public sealed record CodeReference
{
    /// <summary>The git repository URL.</summary>
    public string? Repository { get; init; }

    /// <summary>The branch.</summary>
    public string? Branch { get; init; }

    /// <summary>The commit id.</summary>
    public string? Commit { get; init; }

    /// <summary>A tag to check out instead of a commit.</summary>
    public string? Tag { get; init; }

    /// <summary>The script, module or project to run, relative to the working directory.</summary>
    public string? EntryPoint { get; init; }

    /// <summary>The working directory, relative to the repository root.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The uncommitted changes (a git diff), or the whole script when there is no repository.</summary>
    public string? Diff { get; init; }

    /// <summary>The interpreter or runtime (<c>python3</c>, <c>dotnet</c>, ...).</summary>
    public string? Binary { get; init; }

    internal static CodeReference From(JsonNode? s) => new()
    {
        Repository = s.Str("repository"),
        Branch = s.Str("branch"),
        Commit = s.Str("version_num"),
        Tag = s.Str("tag"),
        EntryPoint = s.Str("entry_point"),
        WorkingDirectory = s.Str("working_dir"),
        Diff = s.Str("diff"),
        Binary = s.Str("binary"),
    };
}

/// <summary>A file or object a task stored on the file server.</summary>
public sealed record ArtifactInfo(string Key, string Type, string? Uri, long? Size, string? Hash, string? ContentType, string? Preview)
{
    internal static ArtifactInfo From(JsonObject a) => new(
        a.Str("key") ?? "", a.Str("type") ?? "", a.Str("uri"), a.Long("content_size"), a.Str("hash"),
        a.Str("type_data.content_type"), a.Str("type_data.preview"));
}
