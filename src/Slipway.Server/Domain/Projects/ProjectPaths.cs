using Slipway.Server.Core;

namespace Slipway.Server.Domain.Projects;

/// <summary>Project names are '/'-separated paths; parents exist for every prefix.</summary>
public static class ProjectPaths
{
    public const int MaxLength = 1024;

    public static string Normalize(string name)
    {
        var segments = name.Split('/').Select(s => s.Trim()).ToArray();
        if (segments.Any(s => s.Length == 0))
            throw ApiException.Validation($"invalid project name '{name}': empty path segment");
        var normalized = string.Join('/', segments);
        if (normalized.Length > MaxLength)
            throw ApiException.Validation($"project name is longer than {MaxLength} characters");
        return normalized;
    }
}
