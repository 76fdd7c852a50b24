namespace Slipway.Agent;

/// <summary>What an agent serves and how it runs tasks. Defaults are written here once; <see cref="Validate"/> runs at start.</summary>
public sealed class AgentOptions
{
    /// <summary>Queue names or ids, highest priority first.</summary>
    public List<string> Queues { get; } = [];

    /// <summary>How many tasks run at once (one per slot).</summary>
    public int Slots { get; set; } = 1;

    /// <summary>GPU indices shared out among the slots (CUDA_VISIBLE_DEVICES); empty: the child sees what the agent sees.</summary>
    public List<string> Gpus { get; } = [];

    /// <summary>The worker id prefix; each slot reports as <c>{prefix}:cpu:{slot}</c> or <c>{prefix}:gpu{ids}</c>. Default CLEARML_WORKER_ID, else the host name.</summary>
    public string WorkerPrefix { get; set; } = System.Environment.GetEnvironmentVariable("CLEARML_WORKER_ID") is { Length: > 0 } id ? id : System.Environment.MachineName;

    /// <summary>Holds per-task working directories, the git cache and the Python environments. Default ~/.slipway/agent.</summary>
    public string WorkDirectory { get; set; } = Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".slipway", "agent");

    /// <summary>The Python interpreter used to build environments (or to run tasks with <see cref="SystemPython"/>).</summary>
    public string Python { get; set; } = "python3";

    /// <summary>Runs Python tasks with <see cref="Python"/> itself instead of a virtual environment built from the task's requirements.</summary>
    public bool SystemPython { get; set; } = System.Environment.GetEnvironmentVariable("CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL") is "1" or "true";

    /// <summary>Extra arguments for <c>pip install</c> (e.g. <c>--no-index --find-links DIR</c> on a machine without a package index).</summary>
    public List<string> PipArguments { get; } = [];

    /// <summary>How long one <c>queues.get_next_task</c> waits on an empty queue (the server caps it at 60 s).</summary>
    public TimeSpan PollWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a running task is checked for an abort.</summary>
    public TimeSpan AbortPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a running task is pinged and the worker reports its machine stats.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the child's output is gathered before it is sent to the task's console.</summary>
    public TimeSpan ConsoleFlushInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long an aborted task's processes get between SIGTERM and SIGKILL.</summary>
    public TimeSpan KillGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Keeps each task's working directory after it ends (for debugging); default: deleted.</summary>
    public bool KeepWorkDirectories { get; set; }

    /// <summary>Extra environment variables for every task process.</summary>
    public Dictionary<string, string> TaskEnvironment { get; } = [];

    /// <summary>
    /// Dead-man's switch: the agent stops when every slot has been idle this long (null: never), so that a machine whose
    /// autoscaler died does not stay up and billed.
    /// </summary>
    public TimeSpan? IdleShutdown { get; set; }

    /// <summary>
    /// The agent stops once it has taken this many tasks and they have ended (null: no limit); 1 makes a Kubernetes pod
    /// that runs one task and completes, so the autoscaler never deletes a pod under a task it took next.
    /// </summary>
    public int? MaxTasks { get; set; }

    /// <summary>The agent stops when the server has not answered for this long (null: it keeps retrying forever).</summary>
    public TimeSpan? ServerUnreachableShutdown { get; set; }

    /// <summary>
    /// Polls the machine's EC2 spot interruption notice (IMDSv2); on a notice the agent takes no more work, re-queues its running
    /// tasks at once and reports the interruption, which the autoscaler acts on.
    /// </summary>
    public bool WatchSpotNotice { get; set; }

    /// <summary>Where IMDS answers (default SLIPWAY_IMDS, else EC2's http://169.254.169.254/); a stand-in in tests.</summary>
    public Uri Imds { get; set; } = SpotNotice.DefaultAddress;

    /// <summary>How often the spot notice is read (EC2 gives about two minutes' warning; AWS suggests every 5 s).</summary>
    public TimeSpan SpotNoticeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the switch looks at the slots and the server.</summary>
    public TimeSpan ShutdownCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    public void Validate()
    {
        if (Queues.Count == 0)
            throw new ArgumentException("the agent needs at least one queue");
        if (Slots is < 1 or > 256)
            throw new ArgumentException("slots must be between 1 and 256");
        if (PollWait <= TimeSpan.Zero || AbortPollInterval <= TimeSpan.Zero || ReportInterval <= TimeSpan.Zero || ConsoleFlushInterval <= TimeSpan.Zero)
            throw new ArgumentException("intervals must be positive");
        if (MaxTasks < 1)
            throw new ArgumentException("max tasks must be at least 1");
        if (SpotNoticeInterval <= TimeSpan.Zero)
            throw new ArgumentException("the spot notice interval must be positive");
        if (!Imds.IsAbsoluteUri || Imds.Scheme is not ("http" or "https"))
            throw new ArgumentException($"the IMDS address must be an http URL (got '{Imds}')");
        if (IdleShutdown <= TimeSpan.Zero || ServerUnreachableShutdown <= TimeSpan.Zero || ShutdownCheckInterval <= TimeSpan.Zero)
            throw new ArgumentException("shutdown durations must be positive");
    }

    /// <summary>The GPUs slot <paramref name="slot"/> gets: an even share of <see cref="Gpus"/>, or one of them in turn when there are more slots than GPUs.</summary>
    public IReadOnlyList<string> GpusOf(int slot)
    {
        if (Gpus.Count == 0)
            return [];
        if (Gpus.Count < Slots)
            return [Gpus[slot % Gpus.Count]];
        var share = Gpus.Count / Slots;
        return Gpus.Skip(slot * share).Take(share).ToList();
    }

    internal string TasksDirectory => Path.Combine(WorkDirectory, "tasks");

    internal string VcsCacheDirectory => Path.Combine(WorkDirectory, "vcs-cache");

    internal string VenvsDirectory => Path.Combine(WorkDirectory, "venvs");
}
