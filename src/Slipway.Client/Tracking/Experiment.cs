using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Slipway.Wire;

namespace Slipway.Client.Tracking;

/// <summary>
/// One tracked run: a task on the server that records the code, arguments, parameters, console, scalars,
/// plots, artifacts and models of this process. Start it with <see cref="StartAsync(string, string, CancellationToken)"/>
/// and dispose it at the end (<c>await using</c>); the task ends <c>completed</c>, or <c>failed</c> on an unhandled
/// exception, or <c>stopped</c> on Ctrl-C. When an agent runs the code (<c>CLEARML_TASK_ID</c> is set), the
/// experiment attaches to that task and the server's parameter values replace the local ones.
/// </summary>
public sealed partial class Experiment : IAsyncDisposable
{
    private static Experiment? s_processExperiment;
    private readonly ExperimentOptions _options;
    private readonly bool _ownsClient;
    private readonly EventBatcher _batcher;
    private readonly Dictionary<string, string> _remoteParameters;
    private readonly Dictionary<string, string> _remoteConfiguration;
    private readonly CancellationTokenSource _aborted = new();
    private readonly CancellationTokenSource _background = new();
    private readonly List<Task> _backgroundLoops = [];
    private readonly Lock _trackedGate = new();
    private readonly List<Task> _tracked = [];
    private ConsoleCapture? _console;
    private JsonObject _runtime = [];
    private readonly MachineStats _machine = new();
    private PosixSignalRegistration? _sigterm;
    private int _ended;
    private int _signalled;

    private Experiment(ExperimentOptions options, SlipwayClient client, bool ownsClient, TaskInfo task, string projectName, bool remote)
    {
        _options = options;
        Client = client;
        _ownsClient = ownsClient;
        Id = task.Id;
        Name = task.Name;
        ProjectId = task.ProjectId ?? "";
        ProjectName = projectName;
        IsRemote = remote;
        OutputUri = options.OutputUri;
        _remoteParameters = remote ? new Dictionary<string, string>(task.Parameters) : [];
        _remoteConfiguration = remote ? new Dictionary<string, string>(task.Configuration) : [];
        _batcher = new EventBatcher(client, Id, options.MaxQueuedEvents, options.FlushInterval, Warn);
        Log = new ExperimentLog(this, _batcher);
    }

    /// <summary>The task id.</summary>
    public string Id { get; }

    /// <summary>The task name.</summary>
    public string Name { get; }

    /// <summary>The project id.</summary>
    public string ProjectId { get; }

    /// <summary>The project's full name.</summary>
    public string ProjectName { get; }

    /// <summary>True when an agent runs this code for an existing task (<c>CLEARML_TASK_ID</c>).</summary>
    public bool IsRemote { get; }

    /// <summary>Reports scalars, plots, text, tables and debug images.</summary>
    public ExperimentLog Log { get; }

    /// <summary>The connection the experiment uses.</summary>
    public SlipwayClient Client { get; }

    /// <summary>Cancelled when the task is aborted from outside (the web UI, <c>slipway task abort</c>).</summary>
    public CancellationToken Aborted => _aborted.Token;

    /// <summary>The task's page in the web UI.</summary>
    public Uri WebPage => new(Client.Options.EffectiveWebServer, $"projects/{ProjectId}/experiments/{Id}");

    internal Uri? OutputUri { get; }

    /// <summary>The folder on the file server for this task's files: <c>&lt;project&gt;/&lt;name&gt;.&lt;id&gt;</c>.</summary>
    internal string StorageFolder => $"{ProjectName}/{Name}.{Id}";

    /// <summary>Starts a run of <paramref name="name"/> in <paramref name="project"/>, connecting with <see cref="SlipwayClient.FromEnvironment"/>.</summary>
    public static Task<Experiment> StartAsync(string project, string name, CancellationToken cancellationToken = default) =>
        StartAsync(new ExperimentOptions { Project = project, Name = name }, cancellationToken);

    /// <summary>Starts a run: creates the task (or attaches to the agent's task), records the code state and starts reporting.</summary>
    public static async Task<Experiment> StartAsync(ExperimentOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var ownsClient = options.Client is null;
        var client = options.Client ?? SlipwayClient.FromEnvironment();
        try
        {
            var remoteId = ClientOptions.Env("TASK_ID");
            TaskInfo task;
            if (remoteId is not null)
            {
                task = await client.Tasks.GetAsync(remoteId, cancellationToken).ConfigureAwait(false);
                await IgnoreRefusalAsync(client.CallAsync("tasks.started", new JsonObject { ["task"] = remoteId, ["force"] = false }, cancellationToken)).ConfigureAwait(false);
            }
            else
            {
                var projectId = await client.Projects.GetOrCreateAsync(options.Project, cancellationToken: cancellationToken).ConfigureAwait(false);
                var created = await client.CallAsync("tasks.create", new JsonObject
                {
                    ["name"] = options.Name,
                    ["type"] = options.Type,
                    ["project"] = projectId,
                    ["tags"] = options.Tags.ToJsonArray(),
                    ["system_tags"] = new JsonArray("development"),
                    ["comment"] = $"Auto-generated at {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC by {Environment.UserName}@{Environment.MachineName}",
                }, cancellationToken).ConfigureAwait(false);
                var id = created.Str("id") ?? throw new SlipwayException("tasks.create: the answer has no id");
                await client.CallAsync("tasks.started", new JsonObject { ["task"] = id, ["force"] = false }, cancellationToken).ConfigureAwait(false);
                task = await client.Tasks.GetAsync(id, cancellationToken).ConfigureAwait(false);
            }
            var projectName = task.ProjectId is null ? options.Project : (await client.Projects.GetAsync(task.ProjectId, cancellationToken).ConfigureAwait(false)).Name;
            var experiment = new Experiment(options, client, ownsClient, task, projectName, remoteId is not null);
            await experiment.RecordStartAsync(cancellationToken).ConfigureAwait(false);
            return experiment;
        }
        catch
        {
            if (ownsClient)
                client.Dispose();
            throw;
        }
    }

    private async Task RecordStartAsync(CancellationToken ct)
    {
        // Under an agent that ships the console itself (CLEARML_LOG_TASK_TO_BACKEND=0, as clearml-agent and
        // slipway agent set it) the output would otherwise reach the task twice.
        if (_options.CaptureConsole && !(IsRemote && ClientOptions.Env("LOG_TASK_TO_BACKEND") is "0" or "false" or "False"))
            _console = new ConsoleCapture(Log);
        _runtime = Runtime();
        var edit = new JsonObject { ["task"] = Id, ["force"] = true, ["runtime"] = _runtime.DeepClone() };
        if (!IsRemote && _options.CaptureGit)
            edit["script"] = CodeState.Script();
        await Client.CallAsync("tasks.edit", edit, ct).ConfigureAwait(false);
        if (!IsRemote && _options.CaptureGit && CodeState.Packages() is { Length: > 0 } packages)
            await Client.CallAsync("tasks.set_requirements", new JsonObject { ["task"] = Id, ["requirements"] = new JsonObject { ["nuget"] = packages } }, ct).ConfigureAwait(false);
        if (_options.CaptureArguments)
            Arguments = await ConnectArgumentsAsync(Environment.GetCommandLineArgs().Skip(1).ToArray(), ct).ConfigureAwait(false);
        StartBackgroundLoops();
        if (_options.HandleProcessExit)
            HookProcessExit();
    }

    private JsonObject Runtime()
    {
        return new JsonObject
        {
            ["slipway_client"] = typeof(Experiment).Assembly.GetName().Version?.ToString(3),
            ["dotnet_version"] = Environment.Version.ToString(),
            ["framework"] = RuntimeInformation.FrameworkDescription,
            ["OS"] = RuntimeInformation.OSDescription,
            ["platform"] = RuntimeInformation.RuntimeIdentifier,
            ["processor"] = RuntimeInformation.ProcessArchitecture.ToString(),
            ["cpu_cores"] = Environment.ProcessorCount,
            ["memory_gb"] = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
            ["hostname"] = Environment.MachineName,
            ["user"] = Environment.UserName,
            ["gpu_count"] = _machine.GpuCount,
            ["CLI"] = Environment.CommandLine,
            ["progress"] = "0",
        };
    }

    /// <summary>The command-line arguments: as given, or, in remote mode, with the values from the server's <c>Args</c> section.</summary>
    public IReadOnlyList<string> Arguments { get; private set; } = Environment.GetCommandLineArgs().Skip(1).ToArray();

    /// <summary>Waits until everything reported so far (events, console, debug images) has reached the server.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        Task[] pending;
        lock (_trackedGate)
            pending = [.. _tracked];
        await Task.WhenAll(pending).ConfigureAwait(false);
        _console?.Flush();
        await _batcher.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    internal Task Track(Task work)
    {
        lock (_trackedGate)
        {
            _tracked.RemoveAll(t => t.IsCompleted);
            _tracked.Add(work);
        }
        return work;
    }

    /// <summary>Ends the run as <c>completed</c> (not in remote mode, where the agent ends it). Called by <see cref="DisposeAsync"/>.</summary>
    public Task CompleteAsync(CancellationToken cancellationToken = default) =>
        EndAsync(IsRemote ? null : "tasks.completed", "completed", cancellationToken);

    /// <summary>Ends the run as <c>failed</c> with the exception as the reason.</summary>
    public Task FailAsync(Exception exception, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return EndAsync("tasks.failed", $"Exception {exception.GetType().Name}: {exception.Message}", cancellationToken, exception.ToString());
    }

    /// <summary>Ends the run as <c>stopped</c> (aborted).</summary>
    public Task StopAsync(string reason = "stopped", CancellationToken cancellationToken = default) =>
        EndAsync("tasks.stopped", reason, cancellationToken);

    private async Task EndAsync(string? endpoint, string reason, CancellationToken ct, string? consoleText = null)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
            return;
        await _background.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_backgroundLoops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        if (consoleText is not null)
            Log.Text(consoleText, "error");
        _console?.Dispose();
        await FlushAsync(ct).ConfigureAwait(false);
        await _batcher.DisposeAsync().ConfigureAwait(false);
        if (!IsRemote)
        {
            // The runtime field is replaced as a whole, so the progress goes with everything else in it.
            _runtime["progress"] = "100";
            await IgnoreRefusalAsync(Client.CallAsync("tasks.edit", new JsonObject { ["task"] = Id, ["force"] = true, ["runtime"] = _runtime.DeepClone() }, ct)).ConfigureAwait(false);
        }
        if (endpoint is not null)
            await IgnoreRefusalAsync(Client.CallAsync(endpoint, new JsonObject { ["task"] = Id, ["force"] = true, ["status_reason"] = reason }, ct)).ConfigureAwait(false);
        _sigterm?.Dispose();
        Interlocked.CompareExchange(ref s_processExperiment, null, this);
    }

    /// <summary>
    /// Flushes, and ends the run as <c>completed</c> unless it already ended. For the experiment that handles the
    /// process's exit (<see cref="ExperimentOptions.HandleProcessExit"/>), the end is left to the process: an
    /// exception that is unwinding through an <c>await using</c> must still end the task <c>failed</c>, and only the
    /// process knows whether one is.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (ReferenceEquals(Volatile.Read(ref s_processExperiment), this) && Volatile.Read(ref _ended) == 0)
        {
            await FlushAsync().ConfigureAwait(false);
            return;
        }
        await CompleteAsync().ConfigureAwait(false);
        _aborted.Dispose();
        _background.Dispose();
        if (_ownsClient)
            Client.Dispose();
    }

    private void StartBackgroundLoops()
    {
        var ct = _background.Token;
        _backgroundLoops.Add(Task.Run(() => EveryAsync(TimeSpan.FromSeconds(30), () => Client.CallAsync("tasks.ping", new JsonObject { ["task"] = Id }, ct), ct), ct));
        _backgroundLoops.Add(Task.Run(() => EveryAsync(_options.AbortPollInterval, () => CheckAbortAsync(ct), ct), ct));
        _backgroundLoops.Add(Task.Run(() => EveryAsync(_options.FlushInterval, () =>
        {
            _console?.Flush();
            return Task.CompletedTask;
        }, ct), ct));
        if (_options.MonitorInterval is { } monitor)
        {
            var start = Environment.TickCount64;
            _machine.Sample();
            _backgroundLoops.Add(Task.Run(() => EveryAsync(monitor, () =>
            {
                var seconds = (Environment.TickCount64 - start) / 1000;
                foreach (var (key, value) in _machine.Sample())
                    Log.Scalar(key.StartsWith("gpu_", StringComparison.Ordinal) ? ":monitor:gpu" : ":monitor:machine", key, value, seconds);
                return Task.CompletedTask;
            }, ct), ct));
        }
    }

    private static async Task EveryAsync(TimeSpan interval, Func<Task> action, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(interval, ct).ConfigureAwait(false);
            try
            {
                await action().ConfigureAwait(false);
            }
            catch (SlipwayException)
            {
                // A missed ping or poll is retried at the next tick.
            }
        }
    }

    private async Task CheckAbortAsync(CancellationToken ct)
    {
        var data = await Client.CallAsync("tasks.get_all", new JsonObject
        {
            ["id"] = new JsonArray(Id),
            ["only_fields"] = new JsonArray(TaskFields.Status, TaskFields.StatusMessage, DocumentFields.Id),
        }, ct).ConfigureAwait(false);
        var task = (data["tasks"] as JsonArray)?.FirstOrDefault();
        var status = task.Str(TaskFields.Status);
        var message = task.Str(TaskFields.StatusMessage) ?? "";
        var stopping = (status == TaskStatusNames.InProgress && message.Contains("stopping", StringComparison.Ordinal))
                       || status is TaskStatusNames.Stopped or TaskStatusNames.Failed or TaskStatusNames.Completed or TaskStatusNames.Published or TaskStatusNames.Closed;
        if (!stopping || _aborted.IsCancellationRequested)
            return;
        Warn($"slipway: task {Id} was aborted from outside");
        await _aborted.CancelAsync().ConfigureAwait(false);
        if (_options.AbortGracePeriod is { } grace && _options.HandleProcessExit)
        {
            _ = Task.Run(async () =>
            {
                await Task.Delay(grace, CancellationToken.None).ConfigureAwait(false);
                // A signal's handler that is still recording the end (slow under load) ends the process itself once it
                // returns; an exit started beside it would race the runtime's own signal handling.
                if (Volatile.Read(ref _signalled) == 1)
                    return;
                await StopAsync("aborted").ConfigureAwait(false);
                Environment.Exit(130);
            }, CancellationToken.None);
        }
    }

    private void HookProcessExit()
    {
        if (Interlocked.CompareExchange(ref s_processExperiment, this, null) is not null)
            return; // another experiment of this process already owns the exit handling
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
            Finish(() => FailAsync(e.ExceptionObject as Exception ?? new InvalidOperationException(e.ExceptionObject?.ToString())));
        Console.CancelKeyPress += (_, _) => Signalled(() => StopAsync("stopped (Ctrl-C)"));
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => Signalled(() => StopAsync("stopped (SIGTERM)")));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Finish(() => CompleteAsync());
    }

    private void Signalled(Func<Task> end)
    {
        Interlocked.Exchange(ref _signalled, 1);
        Finish(end);
    }

    /// <summary>Runs an ending from a process event, which must finish before the handler returns.</summary>
    private void Finish(Func<Task> end)
    {
        if (Volatile.Read(ref _ended) == 1)
            return;
        try
        {
            end().Wait(TimeSpan.FromSeconds(30));
        }
        catch (AggregateException e)
        {
            Warn($"slipway: could not record the end of task {Id}: {e.InnerException?.Message}");
        }
    }

    private static async Task IgnoreRefusalAsync(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (SlipwayException e) when (e.ResultCode == 400)
        {
            // The state already moved on (e.g. an agent marked the task, or it was aborted).
        }
    }

    private static void Warn(string message) => Console.Error.WriteLine(message);

    internal static string TypeName(Type type) =>
        type == typeof(bool) ? "bool"
        : type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(uint) || type == typeof(ulong) ? "int"
        : type == typeof(float) || type == typeof(double) || type == typeof(decimal) ? "float"
        : type == typeof(string) ? "str"
        : type.Name;

    internal static string Format(object? value) => value switch
    {
        null => "",
        bool b => b ? "True" : "False",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    internal static object? Parse(string text, Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string))
            return text;
        if (text.Length == 0 && Nullable.GetUnderlyingType(type) is not null)
            return null;
        if (target == typeof(bool))
            return text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1";
        if (target.IsEnum)
            return Enum.Parse(target, text, ignoreCase: true);
        return Convert.ChangeType(text, target, CultureInfo.InvariantCulture);
    }

    internal static IEnumerable<PropertyInfo> ParameterProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0)
            .Where(p => (Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType) is var t && (t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal)));
}
