using System.Text;

namespace Slipway.Server.Web.Pages.Experiment;

/// <summary>
/// One line of a task's console as a terminal would show it. Programs write ANSI escape sequences (colours from
/// loggers, cursor moves from progress bars) and carriage returns (tqdm redraws its bar in place); the SDK and the agents
/// ship those bytes as written. Colours and bold become styled runs, other escape sequences are dropped, and after a
/// carriage return the line shows what was written last.
/// </summary>
internal sealed record ConsoleLine(string Text, IReadOnlyList<ConsoleLine.Run> Runs)
{
    /// <summary>A piece of the line's text and the CSS classes of its style (empty when plain).</summary>
    public readonly record struct Run(string Text, string Classes);

    private const char Escape = '\x1b';

    public static ConsoleLine Parse(string raw)
    {
        var visible = AfterCarriageReturn(raw);
        if (visible.IndexOf(Escape) < 0)
            return new ConsoleLine(visible, [new Run(visible, "")]);

        var runs = new List<Run>();
        var text = new StringBuilder(visible.Length);
        var run = new StringBuilder();
        var style = new Style();
        var classes = "";
        var i = 0;
        while (i < visible.Length)
        {
            var c = visible[i];
            if (c != Escape)
            {
                run.Append(c);
                text.Append(c);
                i++;
                continue;
            }
            var (end, sgr) = SkipSequence(visible, i);
            if (sgr is not null)
            {
                style = style.Apply(sgr);
                var next = style.Classes();
                if (next != classes)
                {
                    Flush();
                    classes = next;
                }
            }
            i = end;
        }
        Flush();
        return new ConsoleLine(text.ToString(), runs.Count == 0 ? [new Run("", "")] : runs);

        void Flush()
        {
            if (run.Length > 0)
                runs.Add(new Run(run.ToString(), classes));
            run.Clear();
        }
    }

    /// <summary>The text after the last carriage return that is followed by something (a trailing one, as in CRLF, is not a redraw).</summary>
    private static string AfterCarriageReturn(string raw)
    {
        var line = raw.TrimEnd('\r');
        var cr = line.LastIndexOf('\r');
        return cr < 0 ? line : line[(cr + 1)..];
    }

    /// <summary>Where an escape sequence starting at <paramref name="at"/> ends, and its parameters when it sets colours (SGR).</summary>
    private static (int End, string? Sgr) SkipSequence(string s, int at)
    {
        var i = at + 1;
        if (i >= s.Length)
            return (i, null);
        switch (s[i])
        {
            case '[': // CSI: parameters, intermediates, one final byte in @..~
                var start = ++i;
                while (i < s.Length && s[i] is >= '\x20' and <= '\x3f')
                    i++;
                if (i >= s.Length)
                    return (i, null);
                var parameters = s[start..i];
                return (i + 1, s[i] == 'm' ? parameters : null);
            case ']': // OSC (window titles, links): up to BEL or ESC \
                while (++i < s.Length)
                {
                    if (s[i] == '\a')
                        return (i + 1, null);
                    if (s[i] == Escape && i + 1 < s.Length && s[i + 1] == '\\')
                        return (i + 2, null);
                }
                return (i, null);
            case '(' or ')': // character set selection: one more byte
                return (Math.Min(i + 2, s.Length), null);
            default:
                return (i + 1, null);
        }
    }

    /// <summary>The SGR attributes the UI shows: the 16 colours (the 256- and true-colour forms map to none), bold, dim, italic, underline.</summary>
    private readonly record struct Style(int Fg = -1, int Bg = -1, bool Bold = false, bool Dim = false, bool Italic = false, bool Underline = false)
    {
        public Style Apply(string parameters)
        {
            var codes = parameters.Length == 0 ? [0] : parameters.Split(';').Select(p => int.TryParse(p, out var n) ? n : 0).ToArray();
            var s = this;
            for (var k = 0; k < codes.Length; k++)
            {
                var code = codes[k];
                s = code switch
                {
                    0 => new Style(),
                    1 => s with { Bold = true },
                    2 => s with { Dim = true },
                    3 => s with { Italic = true },
                    4 => s with { Underline = true },
                    22 => s with { Bold = false, Dim = false },
                    23 => s with { Italic = false },
                    24 => s with { Underline = false },
                    >= 30 and <= 37 => s with { Fg = code - 30 },
                    39 => s with { Fg = -1 },
                    >= 40 and <= 47 => s with { Bg = code - 40 },
                    49 => s with { Bg = -1 },
                    >= 90 and <= 97 => s with { Fg = code - 90 + 8 },
                    >= 100 and <= 107 => s with { Bg = code - 100 + 8 },
                    _ => s,
                };
                if (code is 38 or 48 && k + 1 < codes.Length)
                {
                    // 38;5;n and 38;2;r;g;b: skip the colour's arguments (a 256-colour index below 16 is one of ours).
                    var isFg = code == 38;
                    if (codes[k + 1] == 5 && k + 2 < codes.Length)
                    {
                        var n = codes[k + 2];
                        if (n is >= 0 and < 16)
                            s = isFg ? s with { Fg = n } : s with { Bg = n };
                        k += 2;
                    }
                    else if (codes[k + 1] == 2)
                        k += 4;
                }
            }
            return s;
        }

        public string Classes()
        {
            var parts = new List<string>(4);
            if (Fg >= 0)
                parts.Add("ansi-fg-" + Fg);
            if (Bg >= 0)
                parts.Add("ansi-bg-" + Bg);
            if (Bold)
                parts.Add("ansi-bold");
            if (Dim)
                parts.Add("ansi-dim");
            if (Italic)
                parts.Add("ansi-italic");
            if (Underline)
                parts.Add("ansi-underline");
            return string.Join(' ', parts);
        }
    }
}
