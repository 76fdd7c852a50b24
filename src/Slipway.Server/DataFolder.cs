namespace Slipway.Server;

/// <summary>
/// The data directory's permissions. The database holds the token-signing secret and clearml.conf the admin's
/// keys, so anyone who can read them can act as the admin: folders are the owner's alone (0700), files 0600.
/// Nothing to do on Windows, where a profile's folders are private by default.
/// </summary>
public static class DataFolder
{
    public const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Creates the data directory and the folders Slipway keeps in it, owner-only. A data directory that already
    /// holds Slipway's database is tightened too (older versions left it 0755); a folder that only now becomes
    /// one (--data pointing at an existing folder) keeps its mode, as it may be shared with other things.
    /// </summary>
    public static void Prepare(ServerOptions options)
    {
        var dataDir = options.DataDir;
        var ours = File.Exists(DatabasePath(options));
        try
        {
            CreateOwnerOnly(dataDir, tighten: ours);
            // Probed with a real write: permission bits do not tell (root ignores them; a read-only mount overrides them).
            var probe = Path.Combine(dataDir, $".slipway-write-check-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFolderNotWritableException(Path.GetFullPath(dataDir), e);
        }
        CreateOwnerOnly(Path.Combine(dataDir, "web-keys"), tighten: true);
        if (options.S3 is null)
            CreateOwnerOnly(Path.Combine(dataDir, "files"), tighten: true);
        if (options.UsesPostgres)
            return;
        // An empty file is a valid new SQLite database; creating it here makes it 0600 from its first moment,
        // and SQLite gives its -wal and -shm files the database file's mode.
        var db = DatabasePath(options);
        if (!File.Exists(db))
            CreateFile(db).Dispose();
        foreach (var file in new[] { db, db + "-wal", db + "-shm" })
            TightenFile(file);
    }

    public static string DatabasePath(ServerOptions options) => Path.Combine(options.DataDir, "slipway.db");

    /// <summary>Creates a new file, owner-only (0600) from its first moment.</summary>
    public static FileStream CreateFile(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = OwnerOnlyFile;
        return new FileStream(path, options);
    }

    /// <summary>Makes an existing file owner-only (read and write) if it is readable or writable by others.</summary>
    public static void TightenFile(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path))
            return;
        if ((File.GetUnixFileMode(path) & ~OwnerOnlyFile) != 0)
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) & OwnerOnlyFile);
    }

    private static void CreateOwnerOnly(string path, bool tighten)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        if (!Directory.Exists(path))
            Directory.CreateDirectory(path, OwnerOnlyFolder);
        else if (tighten && (File.GetUnixFileMode(path) & ~OwnerOnlyFolder) != 0)
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) & OwnerOnlyFolder);
    }
}

/// <summary>Start-up stops here: the data folder cannot be created or written (read-only mount, permissions, full disk).</summary>
public sealed class DataFolderNotWritableException(string folder, Exception inner)
    : IOException($"the data folder {folder} is not writable ({inner.Message})", inner)
{
    public string Folder { get; } = folder;
}
