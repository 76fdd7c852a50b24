using System.IO.Compression;

namespace Slipway.Agent.Tests.Infrastructure;

/// <summary>Writes a pure-Python wheel by hand, so pip can install it with --no-index (no package index is reachable here).</summary>
public static class TinyWheel
{
    public static string Build(string directory, string name, string version, string initPy)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{name}-{version}-py3-none-any.whl");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string entry, string text)
        {
            using var writer = new StreamWriter(zip.CreateEntry(entry).Open());
            writer.Write(text);
        }
        var info = $"{name}-{version}.dist-info";
        Add($"{name}/__init__.py", initPy);
        Add($"{info}/METADATA", $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        Add($"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: slipway-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
        Add($"{info}/RECORD", $"{name}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n");
        return path;
    }
}
