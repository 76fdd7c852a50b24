using System.Globalization;
using System.Runtime.InteropServices;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>Kills a process and all its descendants with SIGKILL, as a machine that dies would.</summary>
public static partial class ProcessKill
{
    public static void TreeWithSigkill(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
                continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(pid);
            }
            catch (IOException)
            {
            }
        }
        var all = new List<int>();
        var todo = new Stack<int>([root]);
        while (todo.TryPop(out var pid))
        {
            all.Add(pid);
            foreach (var child in children.GetValueOrDefault(pid) ?? [])
                todo.Push(child);
        }
        foreach (var pid in all)
            _ = kill(pid, 9);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
