using System.Diagnostics;

namespace Slipway.Agent;

/// <summary>What kind of program a task's entry point is.</summary>
internal enum EntryKind
{
    Python,
    Dotnet,
    Shell,
}

/// <summary>Turns a task's entry point into the command that runs it.</summary>
internal static class TaskCommand
{
    /// <summary>
    /// From the entry point's form when it says (.csproj/.fsproj/.dll, .sh), else from <c>script.binary</c>
    /// (dotnet, bash/sh); Python otherwise (the server's default binary is "python").
    /// </summary>
    public static EntryKind KindOf(TaskCode code)
    {
        var entry = code.EntryPoint;
        if (entry.EndsWith(".csproj", StringComparison.Ordinal) || entry.EndsWith(".fsproj", StringComparison.Ordinal) || entry.EndsWith(".dll", StringComparison.Ordinal))
            return EntryKind.Dotnet;
        if (entry.EndsWith(".sh", StringComparison.Ordinal))
            return EntryKind.Shell;
        var binary = Path.GetFileName(code.Binary ?? "");
        if (binary == "dotnet")
            return EntryKind.Dotnet;
        if (IsShell(binary))
            return EntryKind.Shell;
        return EntryKind.Python;
    }

    private static bool IsShell(string binary) => binary is "bash" or "sh" or "zsh" or "dash";

    /// <summary>The process to start; <paramref name="python"/> is the interpreter for a Python task.</summary>
    public static ProcessStartInfo Build(TaskCode code, EntryKind kind, string workingDirectory, string? python)
    {
        var entry = code.EntryPoint.Trim();
        ProcessStartInfo start;
        switch (kind)
        {
            case EntryKind.Python:
                start = new ProcessStartInfo(python ?? "python3");
                start.ArgumentList.Add("-u");
                if (entry.StartsWith("-c ", StringComparison.Ordinal))
                {
                    start.ArgumentList.Add("-c");
                    start.ArgumentList.Add(entry[3..].Trim());
                }
                else if (entry.StartsWith("-m ", StringComparison.Ordinal))
                {
                    start.ArgumentList.Add("-m");
                    foreach (var part in entry[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        start.ArgumentList.Add(part);
                }
                else
                {
                    start.ArgumentList.Add(entry.Length > 0 ? entry : "script.py");
                }
                break;
            case EntryKind.Dotnet:
                start = new ProcessStartInfo("dotnet");
                if (entry.EndsWith(".dll", StringComparison.Ordinal))
                {
                    start.ArgumentList.Add(entry);
                }
                else
                {
                    start.ArgumentList.Add("run");
                    start.ArgumentList.Add("--project");
                    start.ArgumentList.Add(entry);
                }
                break;
            default:
                var shell = code.Binary is { Length: > 0 } b && IsShell(Path.GetFileName(b)) ? b : "bash";
                start = new ProcessStartInfo(shell);
                // A file that is there is run as a script; anything else is a command line.
                if (entry.Length > 0 && !entry.Contains(' ', StringComparison.Ordinal) && File.Exists(Path.Combine(workingDirectory, entry)))
                {
                    start.ArgumentList.Add(entry);
                }
                else
                {
                    start.ArgumentList.Add("-c");
                    start.ArgumentList.Add(entry);
                }
                break;
        }
        start.WorkingDirectory = workingDirectory;
        return start;
    }
}
