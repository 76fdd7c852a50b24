namespace Slipway.Client.Tracking;

/// <summary>How <see cref="Experiment.StartAsync(ExperimentOptions, CancellationToken)"/> starts a run.</summary>
public sealed record ExperimentOptions
{
    /// <summary>The project (full <c>/</c>-separated name; created when missing).</summary>
    public required string Project { get; init; }

    /// <summary>The task name.</summary>
    public required string Name { get; init; }

    /// <summary>The task type. Default <c>training</c>.</summary>
    public string Type { get; init; } = "training";

    /// <summary>Tags for the task.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The connection; default <see cref="SlipwayClient.FromEnvironment"/>. The experiment does not dispose a client it is given.</summary>
    public SlipwayClient? Client { get; init; }

    /// <summary>
    /// Tee the process's console output (stdout as <c>info</c>, stderr as <c>error</c>) to the task. Default true; left
    /// off in remote mode when <c>CLEARML_LOG_TASK_TO_BACKEND=0</c> (the agent running the task ships the console).
    /// </summary>
    public bool CaptureConsole { get; init; } = true;

    /// <summary>Record the git repository, branch, commit and uncommitted diff of the working directory. Default true.</summary>
    public bool CaptureGit { get; init; } = true;

    /// <summary>Record the command-line arguments as the <c>Args</c> hyperparameter section. Default true.</summary>
    public bool CaptureArguments { get; init; } = true;

    /// <summary>Report CPU, memory, disk, network and GPU use as <c>:monitor:*</c> scalars; null turns it off. Default every 30 s.</summary>
    public TimeSpan? MonitorInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Set the task's final status when the process ends: <c>completed</c> on a normal exit, <c>failed</c> on an
    /// unhandled exception, <c>stopped</c> on Ctrl-C or SIGTERM. Default true; turn off for several runs in one process.
    /// </summary>
    public bool HandleProcessExit { get; init; } = true;

    /// <summary>How often the task's status is checked for an abort from outside (the UI, the CLI). Default 2 s.</summary>
    public TimeSpan AbortPollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After an abort from outside, how long the program has to stop on its own (watch <see cref="Experiment.Aborted"/>)
    /// before the process is ended; null never ends it. Default 30 s.
    /// </summary>
    public TimeSpan? AbortGracePeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest the events are held before being sent. Default 1 s.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How many events may wait to be sent before reporting blocks (24 bytes a scalar). Default 16,777,216.
    /// </summary>
    public int MaxQueuedEvents { get; init; } = 16_777_216;

    /// <summary>Where artifacts and models are uploaded; default the configured file server.</summary>
    public Uri? OutputUri { get; init; }
}
