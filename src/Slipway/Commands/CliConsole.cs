namespace Slipway.Commands;

/// <summary>
/// Where a command writes (data on <see cref="Out"/>; messages and progress on <see cref="Error"/>) and what it
/// knows about the terminal: progress bars are drawn only when <see cref="ErrorIsTerminal"/>, and questions are
/// asked only when there is a <see cref="Prompt"/>. Tests pass string writers and get neither.
/// </summary>
public sealed class CliConsole(TextWriter output, TextWriter error)
{
    public TextWriter Out { get; } = output;

    public TextWriter Error { get; } = error;

    /// <summary>True when stderr is an interactive terminal: progress bars redraw a line with carriage returns.</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>The terminal's width in columns, for progress bars and help.</summary>
    public int Width { get; init; } = 100;

    /// <summary>Asks the user for a value (label, secret: not echoed); null when input is not a terminal.</summary>
    public Func<string, bool, string?>? Prompt { get; init; }

    /// <summary>The process's own console.</summary>
    public static CliConsole ForProcess()
    {
        var terminal = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
        var width = 100;
        if (terminal)
        {
            try
            {
                width = Math.Max(Console.WindowWidth, 40);
            }
            catch (IOException)
            {
            }
        }
        return new CliConsole(Console.Out, Console.Error)
        {
            ErrorIsTerminal = terminal,
            Width = width,
            Prompt = Console.IsInputRedirected ? null : ReadFromTerminal,
        };
    }

    private static string? ReadFromTerminal(string label, bool secret)
    {
        Console.Error.Write($"{label}: ");
        if (!secret)
            return Console.ReadLine();
        var value = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
                break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (value.Length > 0)
                    value.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                value.Append(key.KeyChar);
            }
        }
        Console.Error.WriteLine();
        return value.ToString();
    }
}
