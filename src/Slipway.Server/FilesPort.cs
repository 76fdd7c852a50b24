namespace Slipway.Server;

/// <summary>
/// Every port the file server has served on, this run's included, known once Kestrel has bound it (port 0
/// picks one): documents keep file URLs from earlier runs. Which port a request came in on is <see cref="ListenPorts"/>'s.
/// </summary>
public sealed class FilesPort
{
    private readonly TaskCompletionSource<IReadOnlySet<int>> _all = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<IReadOnlySet<int>> All => _all.Task;

    public void Bound(IReadOnlySet<int> all) => _all.SetResult(all);
}
