namespace Slipway.Server;

/// <summary>
/// The URLs clients are told to use (the ones clearml.conf names), known once Kestrel has bound its ports
/// (port 0 picks one at start); the web UI shows them in the configuration snippet it hands out.
/// </summary>
public sealed class ServerUrls
{
    private Uri? _api, _web, _files;

    public Uri Api => _api ?? throw new InvalidOperationException("the server has not bound its ports yet");
    public Uri Web => _web ?? throw new InvalidOperationException("the server has not bound its ports yet");
    public Uri Files => _files ?? throw new InvalidOperationException("the server has not bound its ports yet");

    public void Bound(Uri api, Uri web, Uri files) => (_api, _web, _files) = (api, web, files);
}
