namespace Slipway.Server;

/// <summary>
/// One setting of <c>slipway server</c>: the key users write in the settings file (and, from it, the environment variable
/// and the command-line switch), what it means, and how its text becomes a value of <see cref="ServerOptions"/>.
/// </summary>
/// <param name="Key">As in the settings file: lower case with underscores (api_port).</param>
/// <param name="Description">One line for the command-line help and the README.</param>
/// <param name="Show">The value as a user writes it; applied to fresh options it gives the default.</param>
/// <param name="Apply">Reads the text into the options, adding a problem (naming the key) where it cannot be used.</param>
public sealed record ServerSetting(string Key, string Description, Func<ServerOptions, string?> Show, Action<ServerOptions, string, List<string>> Apply)
{
    /// <summary>False for secrets: a switch's value is visible to every user of the machine in the process list.</summary>
    public bool OnCommandLine { get; init; } = true;

    /// <summary>The default in words, where the value itself depends on the machine or means something unwritten (SQLite).</summary>
    public string? DefaultText { get; init; }

    public string EnvironmentVariable => "SLIPWAY_" + Key.ToUpperInvariant();

    public string Switch => "--" + Key.Replace('_', '-');

    public string Default => DefaultText ?? Show(new ServerOptions()) ?? "none";
}
