using System.Text.Json.Nodes;

namespace Slipway.Agent;

/// <summary>The code a task names (its <c>script</c> section), read from the task document.</summary>
internal sealed record TaskCode(
    string? Repository, string? Branch, string? Commit, string? Tag, string EntryPoint, string? WorkingDirectory,
    string? Diff, string? Binary, string? Requirements)
{
    /// <summary>The diff field holds the script itself, not a patch to a repository.</summary>
    public bool IsLiteralScript => string.IsNullOrEmpty(Repository) && !string.IsNullOrEmpty(Diff);

    public static TaskCode From(JsonObject task)
    {
        var script = task["script"] as JsonObject ?? [];
        string? Str(string name) => script[name] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
        return new TaskCode(Str("repository"), Str("branch"), Str("version_num"), Str("tag"), Str("entry_point") ?? "",
            Str("working_dir"), Str("diff"), Str("binary"), RequirementsText(script["requirements"]));
    }

    /// <summary>requirements.pip may be requirements.txt text or a list of lines.</summary>
    private static string? RequirementsText(JsonNode? requirements)
    {
        var pip = (requirements as JsonObject)?["pip"];
        var text = pip switch
        {
            JsonArray lines => string.Join('\n', lines.Select(l => l?.ToString())),
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => null,
        };
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }
}
