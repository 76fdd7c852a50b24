namespace Slipway.Server.Files;

/// <summary>
/// The file server's port, known once Kestrel has bound it (port 0 picks one), and every port it has served
/// on (documents keep file URLs from earlier runs).
/// </summary>
public sealed class FilesPort
{
    private readonly TaskCompletionSource<int> _current = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<IReadOnlySet<int>> _all = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<int> Current => _current.Task;

    public Task<IReadOnlySet<int>> All => _all.Task;

    public void Bound(int port, IReadOnlySet<int> all)
    {
        _current.SetResult(port);
        _all.SetResult(all);
    }
}
