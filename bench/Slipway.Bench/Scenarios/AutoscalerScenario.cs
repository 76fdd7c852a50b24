using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Slipway.Autoscaler;
using Slipway.Autoscaler.Simulation;
using Slipway.Client;

namespace Slipway.Bench.Scenarios;

/// <summary>
/// The autoscaler: a seeded bursty day replayed under Slipway's reconciler and ClearML's open-source policy in one simulator;
/// one reconcile pass at 10,000 queued tasks / 500 instances / 1,000 workers; enqueue → launch requested against a real server,
/// with a recording provider and with the EC2 provider against moto's EC2 on loopback.
/// </summary>
public static class AutoscalerScenario
{
    public static async Task RunAsync(BenchContext ctx)
    {
        Replay(ctx);
        ReconcilePass(ctx);
        await EnqueueToLaunchAsync(ctx);
        await EnqueueToEc2LaunchAsync(ctx);
        await EnqueueToLocalTaskAsync(ctx);
    }

    private static AutoscalerConfig SimulatedConfig(int max)
    {
        var config = new AutoscalerConfig { Name = "sim", MaxInstances = max, MaxLaunchesInFlight = max, IdleTimeoutSeconds = 600, DrainRecheckSeconds = 5 };
        config.Queues["q"] = ["cpu"];
        config.Resources["cpu"] = new ResourceConfig { Provider = "sim", MaxInstances = max };
        return config;
    }

    private static void Replay(BenchContext ctx)
    {
        var trace = ctx.Quick ? BurstyTrace.Generate(14, bursts: 6, length: TimeSpan.FromHours(6)) : BurstyTrace.Generate(14);
        foreach (var max in new[] { 200, 50 })
        {
            var simulator = new Simulator(trace);
            var watch = Stopwatch.StartNew();
            var slipway = simulator.RunSlipway(SimulatedConfig(max));
            var clearml = simulator.RunClearMl(max);
            var where = $"{trace.Count} tasks in {(ctx.Quick ? 6 : 24)} bursts, seed 14, max {max} instances";
            var p95 = slipway.P95Wait.TotalMinutes / clearml.P95Wait.TotalMinutes;
            var hours = slipway.InstanceHours / clearml.InstanceHours;
            ctx.Results.Add(new Row("autoscaler", "simulated", $"bursty day, p95 queue wait ({where})",
                Min(slipway.P95Wait), Min(clearml.P95Wait) + " (ClearML policy)", Fmt.Pct(p95), "≤ 50 %", p95 <= 0.5,
                $"p50 {Min(slipway.P50Wait)} vs {Min(clearml.P50Wait)}; max {Min(slipway.MaxWait)} vs {Min(clearml.MaxWait)}; simulated in {watch.Elapsed.TotalSeconds:0.0} s"));
            ctx.Results.Add(new Row("autoscaler", "simulated", $"bursty day, instance-hours (max {max})",
                slipway.InstanceHours.ToString("0.0", CultureInfo.InvariantCulture) + " h", clearml.InstanceHours.ToString("0.0", CultureInfo.InvariantCulture) + " h (ClearML policy)",
                Fmt.Pct(hours), "≤ 100 %", hours <= 1.0, $"launches {slipway.Launches} vs {clearml.Launches}; most at once {slipway.MostInstances} vs {clearml.MostInstances}"));
            ctx.Results.Add(new Row("autoscaler", "simulated", $"bursty day, launches beyond what waiting tasks needed (max {max})",
                slipway.LaunchesBeyondNeed.ToString(CultureInfo.InvariantCulture), clearml.LaunchesBeyondNeed.ToString(CultureInfo.InvariantCulture) + " (ClearML policy)",
                "-", "0", slipway.LaunchesBeyondNeed == 0));
        }
    }

    private static string Min(TimeSpan t) => t.TotalMinutes.ToString("0.0", CultureInfo.InvariantCulture) + " min";

    private static void ReconcilePass(BenchContext ctx)
    {
        var config = new AutoscalerConfig { Name = "big", MaxInstances = 500, MaxLaunchesInFlight = 50 };
        config.Queues["q"] = ["gpu"];
        config.Resources["gpu"] = new ResourceConfig { Provider = "sim", MaxInstances = 500, Slots = 2 };
        var clock = new SimulatedClock(DateTimeOffset.UtcNow);
        var reconciler = new Reconciler(config, clock);
        var state = new AutoscalerState();
        var workers = new List<WorkerView>();
        var instances = new List<ProviderInstance>();
        for (var i = 0; i < 500; i++)
        {
            var launch = $"l{i:D4}";
            state.Instances.Add(new InstanceRecord
            {
                LaunchId = launch, InstanceId = "i-" + launch, Resource = "gpu", Slots = 2, Status = InstanceStatus.Ready,
                LaunchedAt = clock.Now, ReadyAt = clock.Now, LastBusyAt = clock.Now, LastWorkerSeenAt = clock.Now, Seen = true,
            });
            instances.Add(new ProviderInstance("i-" + launch, launch, "gpu", ProviderInstanceState.Running));
            for (var s = 0; s < 2; s++)
                workers.Add(new WorkerView($"big:gpu:{launch}:cpu:{s}", $"running-{i}-{s}"));
        }
        var snapshot = new ClusterSnapshot(
            new Dictionary<string, IReadOnlyList<string>> { ["q"] = Enumerable.Range(0, 10_000).Select(i => $"task{i}").ToList() }, workers, instances);
        var times = new Latencies(200);
        for (var run = 0; run < 220; run++)
        {
            var watch = Stopwatch.StartNew();
            var plan = reconciler.Decide(snapshot, state);
            watch.Stop();
            if (plan.Launches.Any())
                throw new InvalidOperationException("the pool is at its max: nothing should be launched");
            if (run >= 20)
                times.Add(watch.ElapsedTicks);
        }
        var (p50, p99) = (times.P50, times.P99);
        ctx.Results.Add(new Row("autoscaler", "in-process", "one reconcile pass: 10,000 queued tasks, 500 instances, 1,000 workers (p50 of 200)",
            Fmt.Ms(p50), "-", "-", "< 50 ms", p50 < 50, $"p99 {Fmt.Ms(p99)}"));
    }

    /// <summary>A provider that records when each launch was asked for; its instances never register (booting counts as capacity).</summary>
    private sealed class RecordingProvider : IComputeProvider
    {
        private readonly List<ProviderInstance> _instances = [];
        public string Name => "sim";
        public TaskCompletionSource<long> Launched { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<string> LaunchAsync(LaunchRequest request, CancellationToken ct)
        {
            lock (_instances)
                _instances.Add(new ProviderInstance("i-" + request.LaunchId, request.LaunchId, request.Resource, ProviderInstanceState.Running));
            Launched.TrySetResult(Stopwatch.GetTimestamp());
            return Task.FromResult("i-" + request.LaunchId);
        }

        public Task<IReadOnlyList<ProviderInstance>> ListAsync(string scaler, CancellationToken ct)
        {
            lock (_instances)
                return Task.FromResult<IReadOnlyList<ProviderInstance>>(_instances.ToList());
        }

        public Task TerminateAsync(string instanceId, CancellationToken ct) => Task.CompletedTask;
    }

    private static async Task EnqueueToLaunchAsync(BenchContext ctx)
    {
        var enqueues = ctx.Quick ? 10 : 100;
        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        var admin = server.Server.NewAdmin!;
        using var client = new SlipwayClient(new ClientOptions { ApiServer = server.ApiUrl, AccessKey = admin.AccessKey, SecretKey = admin.SecretKey });
        await client.Queues.CreateAsync("q");
        var config = new AutoscalerConfig { Name = "lat", MaxInstances = 1000, MaxLaunchesInFlight = 1000, SpinUpTimeoutSeconds = 3600 };
        config.Queues["q"] = ["cpu"];
        config.Resources["cpu"] = new ResourceConfig { Provider = "sim", MaxInstances = 1000 };
        var provider = new RecordingProvider();
        var loop = new AutoscalerLoop(config, new ServerConnection(client), [provider]);
        var times = await TimeEnqueuesAsync(client, loop, enqueues, () => provider.Launched = NewSignal());
        ctx.Results.Add(new Row("autoscaler", "SQLite", $"enqueue → instance launch requested, {enqueues} enqueues (p50 / p99 / max), poll every {config.PollIntervalSeconds} s",
            Fmt.Ms(times.P50), "-", "-", "< 1 s", times.Max < 1000, $"p99 {Fmt.Ms(times.P99)}, max {Fmt.Ms(times.Max)}"));
    }

    /// <summary>
    /// Enqueue → RunInstances sent, with the real EC2 provider (enrollment token from the server, boot script, tags) against
    /// moto's EC2 server on loopback; the time is taken when the SDK's request leaves for moto. Instances never register, so
    /// each booting one counts as capacity and every enqueue needs exactly one launch.
    /// </summary>
    private static async Task EnqueueToEc2LaunchAsync(BenchContext ctx)
    {
        var enqueues = ctx.Quick ? 10 : 100;
        using var moto = MotoProcess.Start();
        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        var admin = server.Server.NewAdmin!;
        using var client = new SlipwayClient(new ClientOptions { ApiServer = server.ApiUrl, AccessKey = admin.AccessKey, SecretKey = admin.SecretKey });
        await client.Queues.CreateAsync("q");
        var config = new AutoscalerConfig
        {
            Name = "lat-ec2", MaxInstances = 1000, MaxLaunchesInFlight = 1000, SpinUpTimeoutSeconds = 3600,
            Ec2 = new Ec2ProviderConfig { Region = "us-east-1", EndpointUrl = moto.Endpoint, Ami = "ami-03cf127a" },
        };
        config.Queues["q"] = ["cpu"];
        config.Resources["cpu"] = new ResourceConfig { Provider = "ec2", MachineType = "t3.micro", MaxInstances = 1000 };
        var recorder = new RunInstancesRecorder();
        var settings = Ec2Provider.ClientSettings(config.Ec2);
        settings.HttpClientFactory = recorder;
        using var ec2 = new Amazon.EC2.AmazonEC2Client(new Amazon.Runtime.BasicAWSCredentials("bench", "bench"), settings);
        var connection = new ServerConnection(client);
        using var provider = new Ec2Provider(config, connection, server.ApiUrl, ec2);
        var loop = new AutoscalerLoop(config, connection, [provider]);
        var times = await TimeEnqueuesAsync(client, loop, enqueues, () => recorder.Sent = NewSignal());
        ctx.Results.Add(new Row("autoscaler", "SQLite + moto EC2", $"enqueue → EC2 RunInstances sent (moto on loopback), {enqueues} enqueues (p50 / p99 / max), poll every {config.PollIntervalSeconds} s",
            Fmt.Ms(times.P50), "-", "-", "< 1 s", times.Max < 1000,
            $"p99 {Fmt.Ms(times.P99)}, max {Fmt.Ms(times.Max)}; DescribeInstances to moto p50 {Median(recorder.ListTimes):0.#} ms, max {recorder.ListTimes.DefaultIfEmpty().Max():0.#} ms over {recorder.ListTimes.Count} passes"));
    }

    /// <summary>
    /// The local provider end to end: a task enqueued on an empty pool until its process has started (the published
    /// `slipway agent` started by the autoscaler, registered, popped the task and ran its script, which writes the time).
    /// Between enqueues the agent goes idle and is stopped, so every one starts from nothing.
    /// </summary>
    private static async Task EnqueueToLocalTaskAsync(BenchContext ctx)
    {
        var enqueues = ctx.Quick ? 2 : 5;
        var slipway = await DatasetGetSdkScenario.PublishedCliAsync(ctx);
        await using var server = await BenchServer.StartAsync(Engine.Sqlite, ctx.Postgres);
        var admin = server.Server.NewAdmin!;
        using var client = new SlipwayClient(new ClientOptions { ApiServer = server.ApiUrl, AccessKey = admin.AccessKey, SecretKey = admin.SecretKey });
        await client.Queues.CreateAsync("q");
        var root = Path.Combine(server.Server.Options.DataDir, "bench-local-agents");
        var config = new AutoscalerConfig
        {
            Name = "lat-local", MaxInstances = 1, PollIntervalSeconds = 0.25, IdleTimeoutSeconds = 1, DrainRecheckSeconds = 0.25, SpinUpTimeoutSeconds = 60,
            Local = new LocalProviderConfig { Command = [slipway], AgentArguments = ["--ping", "1", "--system-python", "--python", "/usr/bin/python3"] },
        };
        config.Queues["q"] = ["local"];
        config.Resources["local"] = new ResourceConfig { Provider = "local", MaxInstances = 1 };
        var environment = new Dictionary<string, string>
        {
            ["CLEARML_API_HOST"] = server.Server.ApiUrl.ToString().TrimEnd('/'), ["CLEARML_WEB_HOST"] = server.Server.WebUrl.ToString().TrimEnd('/'),
            ["CLEARML_FILES_HOST"] = server.Server.FilesUrl.ToString().TrimEnd('/'), ["CLEARML_API_ACCESS_KEY"] = admin.AccessKey, ["CLEARML_API_SECRET_KEY"] = admin.SecretKey,
        };
        var provider = new LocalProvider(config.Local, root, environment) { TerminateGrace = TimeSpan.FromSeconds(5) };
        var loop = new AutoscalerLoop(config, new ServerConnection(client), [provider]);
        await loop.StartAsync(default);
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        var times = new Latencies(enqueues);
        try
        {
            for (var i = 0; i < enqueues; i++)
            {
                while ((await provider.ListAsync(config.Name, default)).Count > 0)
                    await Task.Delay(100);
                var marker = Path.Combine(root, $"started-{i}.txt");
                var id = (await client.CallAsync("tasks.create", new JsonObject
                {
                    ["name"] = $"local-{i}", ["type"] = "training",
                    ["script"] = new JsonObject { ["binary"] = "bash", ["entry_point"] = "task.sh", ["diff"] = $"date +%s%N > {marker}\n" },
                }))["id"]!.GetValue<string>();
                var enqueued = DateTimeOffset.UtcNow;
                await client.Tasks.EnqueueAsync(id, "q");
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                while (!File.Exists(marker) || new FileInfo(marker).Length == 0)
                {
                    if (DateTime.UtcNow > deadline)
                        throw new InvalidOperationException($"task {i} did not start within 60 s");
                    await Task.Delay(20);
                }
                var started = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse((await File.ReadAllTextAsync(marker)).Trim(), CultureInfo.InvariantCulture) / 1_000_000);
                times.Add((long)((started - enqueued).TotalSeconds * Stopwatch.Frequency));
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
            }
            foreach (var instance in await provider.ListAsync(config.Name, default))
                await provider.TerminateAsync(instance.InstanceId, default);
        }
        ctx.Results.Add(new Row("autoscaler", "SQLite + local agents", $"enqueue on an empty pool → task process started (published slipway agent started, registered, task popped, script run), {enqueues} enqueues (p50 / max)",
            Fmt.Ms(times.P50), "-", "-", "< 3 s", times.Max < 3000, $"max {Fmt.Ms(times.Max)}; poll every {config.PollIntervalSeconds} s"));
    }

    private static TaskCompletionSource<long> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Runs the loop while tasks are enqueued one at a time: for each, the time from the enqueue to the moment the signal
    /// <paramref name="arm"/> sets up is given (a launch request's timestamp).
    /// </summary>
    private static async Task<Latencies> TimeEnqueuesAsync(SlipwayClient client, AutoscalerLoop loop, int enqueues, Func<TaskCompletionSource<long>> arm)
    {
        await loop.StartAsync(default);
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        var times = new Latencies(enqueues);
        for (var i = 0; i < enqueues; i++)
        {
            var id = (await client.CallAsync("tasks.create", new JsonObject { ["name"] = $"t{i}", ["type"] = "training" }))["id"]!.GetValue<string>();
            var signal = arm();
            var before = Stopwatch.GetTimestamp();
            await client.Tasks.EnqueueAsync(id, "q");
            times.Add(await signal.Task.WaitAsync(TimeSpan.FromSeconds(10)) - before);
        }
        await stop.CancelAsync();
        try
        {
            await run;
        }
        catch (OperationCanceledException)
        {
        }
        return times;
    }

    private static double Median(List<double> values)
    {
        lock (values)
            return values.Count == 0 ? 0 : values.Order().ElementAt(values.Count / 2);
    }

    /// <summary>Notes when the SDK sends a RunInstances call (the launch requested at the provider's door).</summary>
    private sealed class RunInstancesRecorder : Amazon.Runtime.HttpClientFactory
    {
        public TaskCompletionSource<long> Sent { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>How long each DescribeInstances round trip to moto took (ms): the part of a pass the stand-in sets.</summary>
        public List<double> ListTimes { get; } = [];

        public override HttpClient CreateHttpClient(Amazon.Runtime.IClientConfig clientConfig) => new(new Handler(this));

        public override bool UseSDKHttpClientCaching(Amazon.Runtime.IClientConfig clientConfig) => false;

        public override bool DisposeHttpClientsAfterUse(Amazon.Runtime.IClientConfig clientConfig) => true;

        private sealed class Handler(RunInstancesRecorder recorder) : DelegatingHandler(new HttpClientHandler())
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
            {
                var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(ct);
                if (body.Contains("Action=RunInstances", StringComparison.Ordinal))
                    recorder.Sent.TrySetResult(Stopwatch.GetTimestamp());
                var started = Stopwatch.GetTimestamp();
                var response = await base.SendAsync(request, ct);
                if (body.Contains("Action=DescribeInstances", StringComparison.Ordinal))
                {
                    lock (recorder.ListTimes)
                        recorder.ListTimes.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                return response;
            }
        }
    }

    /// <summary>moto's server (python3 -m moto.server, or SLIPWAY_TEST_PYTHON's) on a free loopback port, for as long as the scenario runs.</summary>
    private sealed class MotoProcess : IDisposable
    {
        private readonly Process _process;

        private MotoProcess(Process process, string endpoint)
        {
            _process = process;
            Endpoint = endpoint;
        }

        public string Endpoint { get; }

        public static MotoProcess Start()
        {
            int port;
            using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
            }
            var python = Environment.GetEnvironmentVariable("SLIPWAY_TEST_PYTHON") is { Length: > 0 } chosen ? chosen : "python3";
            var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-m", "moto.server", "-H", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(arg);
            var process = Process.Start(start) ?? throw new InvalidOperationException("moto did not start");
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                if (process.HasExited)
                    throw new InvalidOperationException("moto's server exited; the EC2 figure needs python3 with moto");
                try
                {
                    using var connect = new System.Net.Sockets.TcpClient("127.0.0.1", port);
                    return new MotoProcess(process, $"http://127.0.0.1:{port}");
                }
                catch (System.Net.Sockets.SocketException)
                {
                    Thread.Sleep(100);
                }
            }
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("moto's server did not start");
        }

        public void Dispose()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }
}
