namespace Slipway.Agent;

/// <summary>One place a task runs: a worker id of its own (as the server lists it), its GPUs, and what it runs now.</summary>
internal sealed class Slot(int index, string workerId, IReadOnlyList<string> gpus)
{
    private readonly Lock _gate = new();
    private (string Task, string Queue)? _current;

    public int Index { get; } = index;

    public string WorkerId { get; } = workerId;

    public IReadOnlyList<string> Gpus { get; } = gpus;

    public (string Task, string Queue)? Current
    {
        get
        {
            lock (_gate)
                return _current;
        }
    }

    /// <summary>Why the server has this slot's worker draining (it takes no new task), as the last answer said; null when it does not.</summary>
    public volatile string? DrainReason;

    /// <summary>The watch of the task the slot runs now (to end it from outside); null when idle.</summary>
    public volatile TaskWatch? Watch;

    public void Running(string task, string queue)
    {
        lock (_gate)
            _current = (task, queue);
    }

    public void Idle()
    {
        lock (_gate)
            _current = null;
    }

    /// <summary>The official agent's naming: <c>host:gpu0</c>, <c>host:gpu0,1</c>, or <c>host:cpu:N</c>.</summary>
    public static string WorkerIdFor(string prefix, int index, IReadOnlyList<string> gpus) =>
        gpus.Count > 0 ? $"{prefix}:gpu{string.Join(',', gpus)}" : $"{prefix}:cpu:{index}";
}
