namespace Slipway.Client.Tests.Infrastructure;

/// <summary>The shared test server with its file server also under /files of the API port, as the client tests need.</summary>
public sealed class ClientTestServer() : TestServer(new TestServerSettings { Configure = options => options.FilesPath = "/files" })
{
    /// <summary>The clearml.conf the server wrote for its admin.</summary>
    public string ConfigFile => Path.Combine(DataDir, "clearml.conf");

    /// <summary>The same file server, also reachable under /files of the API port (a second file-server base URL).</summary>
    public Uri FilesOnApiUrl => new(Server.ApiUrl.ToString().TrimEnd('/') + "/files");
}
