namespace Slipway.Server;

/// <summary>The data folder (database, blobs, clearml.conf) is made and proven writable before anything opens in it.</summary>
public static class DataFolder
{
    /// <summary>Creates the folder if needed and writes a probe file there; throws <see cref="DataFolderNotWritableException"/> when either fails.</summary>
    public static void Prepare(string folder)
    {
        var full = Path.GetFullPath(folder);
        var probe = Path.Combine(full, $".slipway-write-check-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(full);
            // Probed with a real write: permission bits do not tell (root ignores them; a read-only mount overrides them).
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFolderNotWritableException(full, e);
        }
    }
}

/// <summary>Start-up stops here: the data folder cannot be created or written (read-only mount, permissions, full disk).</summary>
public sealed class DataFolderNotWritableException(string folder, Exception inner)
    : IOException($"the data folder {folder} is not writable ({inner.Message})", inner)
{
    public string Folder { get; } = folder;
}
