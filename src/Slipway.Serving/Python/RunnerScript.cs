namespace Slipway.Serving.Python;

/// <summary>The worker's runner script, shipped inside this assembly and written out for the interpreter to run.</summary>
internal static class RunnerScript
{
    /// <summary>
    /// Writes the runner into <paramref name="cacheFolder"/>/runner, named by its hash (hosts of different builds never share
    /// one), unless it is there already; returns its path.
    /// </summary>
    public static string Extract(string cacheFolder)
    {
        using var resource = typeof(RunnerScript).Assembly.GetManifestResourceStream("Slipway.Serving.Python.slipway_runner.py")
                             ?? throw new InvalidOperationException("the Python runner is missing from this build");
        using var copy = new MemoryStream();
        resource.CopyTo(copy);
        var bytes = copy.ToArray();
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..12];
        var folder = Path.Combine(cacheFolder, "runner");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"slipway_runner_{hash}.py");
        if (!File.Exists(path))
        {
            var temporary = path + "." + Guid.NewGuid().ToString("N")[..8];
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
        }
        return path;
    }
}
