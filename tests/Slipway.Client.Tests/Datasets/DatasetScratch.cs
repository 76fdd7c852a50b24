using System.Security.Cryptography;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Datasets;

/// <summary>A fresh folder per test for source files, the dataset cache and copies, and clients that use that cache.</summary>
public sealed class DatasetScratch : IDisposable
{
    private readonly ClientTestServer _server;

    public DatasetScratch(ClientTestServer server)
    {
        _server = server;
        Root = Path.Combine(Path.GetTempPath(), "slipway-ds-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Cache => Path.Combine(Root, "cache");

    /// <summary>A unique project name, so tests sharing a server do not see each other's datasets.</summary>
    public string Project { get; } = "ds-" + Guid.NewGuid().ToString("N")[..8];

    public SlipwayClient Client(HttpMessageHandler? handler = null)
    {
        var options = _server.Options();
        options.DatasetCacheDirectory = Cache;
        if (handler is not null)
            options.HttpClient = new HttpClient(handler);
        return new SlipwayClient(options);
    }

    /// <summary>Writes files (path → content) under a new folder and returns the folder.</summary>
    public string Folder(string name, IReadOnlyDictionary<string, byte[]> files)
    {
        var folder = Path.Combine(Root, name);
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(folder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, content);
        }
        Directory.CreateDirectory(folder);
        return folder;
    }

    public static byte[] Bytes(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static byte[] Text(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    /// <summary>Every file under a folder: relative path → SHA-256 (hex).</summary>
    public static Dictionary<string, string> Hashes(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'),
            f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))), StringComparer.Ordinal);

    public static Dictionary<string, string> Hashes(IReadOnlyDictionary<string, byte[]> files) =>
        files.ToDictionary(p => p.Key, p => Convert.ToHexStringLower(SHA256.HashData(p.Value)), StringComparer.Ordinal);

    /// <summary>Asserts the folder holds exactly these files with exactly these bytes.</summary>
    public static void AssertFolder(IReadOnlyDictionary<string, byte[]> expected, string folder)
    {
        var actual = Hashes(folder);
        Assert.Equal(Hashes(expected).OrderBy(p => p.Key, StringComparer.Ordinal), actual.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Counts the requests a client sends, by method and host:port, and can fail chosen ones.</summary>
public sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private int _fileGets;

    public Uri? FilesServer { get; init; }

    /// <summary>GET requests sent to the file server.</summary>
    public int FileGets => Volatile.Read(ref _fileGets);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method == HttpMethod.Get && FilesServer is not null && request.RequestUri!.Authority == FilesServer.Authority)
            Interlocked.Increment(ref _fileGets);
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>Runs the callback on the reporting thread (Progress&lt;T&gt; would post it later).</summary>
public sealed class SyncProgress(Action<long> report) : IProgress<long>
{
    public void Report(long value) => report(value);
}
