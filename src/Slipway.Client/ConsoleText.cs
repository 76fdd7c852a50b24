namespace Slipway.Client;

/// <summary>Console output as a terminal shows it.</summary>
public static class ConsoleText
{
    /// <summary>
    /// One line (without its newline) as a terminal shows it: what follows its last carriage return, since a progress bar
    /// (tqdm) redraws itself by returning to the start of the line. A carriage return that ends the line (CRLF) redraws nothing.
    /// </summary>
    /// <param name="line">The line as written.</param>
    public static string AsShown(string line)
    {
        var trimmed = line.TrimEnd('\r');
        var cr = trimmed.LastIndexOf('\r');
        return cr < 0 ? line : trimmed[(cr + 1)..] + line[trimmed.Length..];
    }
}
