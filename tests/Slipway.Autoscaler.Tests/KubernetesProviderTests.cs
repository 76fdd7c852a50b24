using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s;
using Slipway.Autoscaler.Tests.Infrastructure;

namespace Slipway.Autoscaler.Tests;

/// <summary>
/// The Kubernetes provider and the reconciler against a real server on loopback and a stand-in of the Kubernetes API
/// (no API server can run here): the test plays the scheduler's and the pod agent's parts.
/// </summary>
public sealed partial class KubernetesProviderTests : IAsyncLifetime
{
    private readonly KubernetesScene _scene = new("gpu");

    public Task InitializeAsync() => _scene.InitializeAsync();

    public Task DisposeAsync() => _scene.DisposeAsync();

    private AutoscalerConfig Config(Action<AutoscalerConfig>? change = null)
    {
        var config = new AutoscalerConfig
        {
            Name = "k8s", MaxInstances = 10, MaxLaunchesInFlight = 10, DrainRecheckSeconds = 5, IdleTimeoutSeconds = 600,
            Kubernetes = new KubernetesProviderConfig
            {
                ApiServer = _scene.Cluster.Url, Namespace = "ml", ServerUrl = "http://slipway.ml.svc:8008",
                CredentialsSecret = new SecretReference { Name = "slipway-agent" },
                Templates = { ["a100"] = new KubernetesTemplate { Image = "registry.example/slipway:1", Gpus = 1 } },
            },
        };
        config.Queues["gpu"] = ["a100"];
        config.Resources["a100"] = new ResourceConfig { Provider = "kubernetes", MachineType = "a100-pod", MaxInstances = 5 };
        change?.Invoke(config);
        return config;
    }

    private async Task<(AutoscalerLoop Loop, KubernetesProvider Provider)> StartLoopAsync(AutoscalerConfig config)
    {
        var provider = new KubernetesProvider(config.Kubernetes!);
        var loop = new AutoscalerLoop(config, new ServerConnection(_scene.Client), [provider], _scene.Clock);
        await loop.StartAsync(default);
        return (loop, provider);
    }

    private async Task<string> EnqueueAsync(string name)
    {
        var id = (await _scene.Client.CallAsync("tasks.create", new JsonObject { ["name"] = name, ["type"] = "training" }))["id"]!.GetValue<string>();
        await _scene.Client.Tasks.EnqueueAsync(id, "gpu");
        return id;
    }

    /// <summary>The pod's agent takes the queue's next task.</summary>
    private async Task<string?> PopAsync() =>
        (await _scene.Client.CallAsync("queues.get_next_task", new JsonObject { ["queue"] = (await _scene.Client.Queues.ListAsync()).Single(q => q.Name == "gpu").Id }))["entry"]?["task"]?.GetValue<string>();

    /// <summary>What the pod's agent does: registers its worker, takes the queue's next task and reports it (or reports idle).</summary>
    private async Task AgentReportsAsync(string launchId, string? task)
    {
        var worker = $"k8s:a100:{launchId}:cpu:0";
        await _scene.Client.CallAsync("workers.register", new JsonObject { ["worker"] = worker, ["queues"] = new JsonArray("gpu") });
        var report = new JsonObject { ["worker"] = worker, ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        if (task is not null)
            report["task"] = task;
        await _scene.Client.CallAsync("workers.status_report", report);
    }

    [Fact]
    public void The_job_manifest_carries_the_template_the_identity_as_labels_and_only_references_to_the_credentials()
    {
        var config = Config(c => c.Kubernetes!.Templates["a100"] = new KubernetesTemplate
        {
            Image = "registry.example/slipway:1", Namespace = "training", Gpus = 2, ServiceAccount = "slipway-runner", ImagePullPolicy = "IfNotPresent",
            Requests = { ["cpu"] = "4", ["memory"] = "16Gi" }, Limits = { ["memory"] = "32Gi" },
            NodeSelector = { ["nvidia.com/gpu.product"] = "NVIDIA-A100-SXM4-80GB" },
            Tolerations = { new KubernetesToleration { Key = "nvidia.com/gpu", Operator = "Exists", Effect = "NoSchedule" } },
            Env = { ["HF_HOME"] = "/cache/hf" }, AgentArguments = ["--system-python"], TtlSecondsAfterFinished = 300, IdleShutdownSeconds = 90,
        });
        using var provider = new KubernetesProvider(config.Kubernetes!);
        var request = new LaunchRequest("k8s", "0123abcdef", "a100", "a100-pod", new Offering("a100-pod", null, Market.OnDemand), 1, ["gpu", "gpu-low"]);
        var json = JsonNode.Parse(KubernetesJson.Serialize(provider.BuildJob(request)))!.AsObject();

        Assert.Equal("batch/v1", json["apiVersion"]!.GetValue<string>());
        Assert.Equal("k8s-0123abcdef", json["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal("training", json["metadata"]!["namespace"]!.GetValue<string>());
        var labels = json["metadata"]!["labels"]!.AsObject();
        Assert.Equal("k8s", labels["slipway/autoscaler"]!.GetValue<string>());
        Assert.Equal("a100", labels["slipway/resource"]!.GetValue<string>());
        Assert.Equal("0123abcdef", labels["slipway/launch-id"]!.GetValue<string>());
        Assert.Equal("on_demand", labels["slipway/market"]!.GetValue<string>());
        Assert.Equal("k8s:a100:0123abcdef", json["metadata"]!["annotations"]!["slipway/worker-prefix"]!.GetValue<string>());

        var spec = json["spec"]!.AsObject();
        Assert.Equal(0, spec["backoffLimit"]!.GetValue<int>());
        Assert.Equal(300, spec["ttlSecondsAfterFinished"]!.GetValue<int>());
        var pod = spec["template"]!.AsObject();
        Assert.Equal(labels.ToJsonString(), pod["metadata"]!["labels"]!.ToJsonString()); // the pod is found by the same labels
        var podSpec = pod["spec"]!.AsObject();
        Assert.Equal("Never", podSpec["restartPolicy"]!.GetValue<string>());
        Assert.Equal("slipway-runner", podSpec["serviceAccountName"]!.GetValue<string>());
        Assert.Equal("""{"nvidia.com/gpu.product":"NVIDIA-A100-SXM4-80GB"}""", podSpec["nodeSelector"]!.ToJsonString());
        Assert.Equal("""[{"effect":"NoSchedule","key":"nvidia.com/gpu","operator":"Exists"}]""", podSpec["tolerations"]!.ToJsonString());
        var container = podSpec["containers"]!.AsArray().Single()!.AsObject();
        Assert.Equal("registry.example/slipway:1", container["image"]!.GetValue<string>());
        Assert.Equal("IfNotPresent", container["imagePullPolicy"]!.GetValue<string>());
        Assert.Equal(["slipway"], container["command"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal(["agent", "--worker-id", "k8s:a100:0123abcdef", "--slots", "1", "--max-tasks", "1", "--queue", "gpu", "--queue", "gpu-low", "--idle-shutdown", "90s", "--system-python"],
            container["args"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal("""{"cpu":"4","memory":"16Gi","nvidia.com/gpu":"2"}""", container["resources"]!["requests"]!.ToJsonString());
        Assert.Equal("""{"memory":"32Gi","nvidia.com/gpu":"2"}""", container["resources"]!["limits"]!.ToJsonString());
        Assert.Equal(
            """[{"name":"CLEARML_API_HOST","value":"http://slipway.ml.svc:8008"},{"name":"CLEARML_API_ACCESS_KEY","valueFrom":{"secretKeyRef":{"key":"access_key","name":"slipway-agent"}}},{"name":"CLEARML_API_SECRET_KEY","valueFrom":{"secretKeyRef":{"key":"secret_key","name":"slipway-agent"}}},{"name":"HF_HOME","value":"/cache/hf"}]""",
            container["env"]!.ToJsonString());
    }

    [Fact]
    public async Task No_credential_of_the_autoscaler_appears_in_a_created_job()
    {
        var (loop, provider) = await StartLoopAsync(Config());
        using var _ = provider;
        await EnqueueAsync("t");
        await loop.RunOnceAsync(default);
        var job = Assert.Single(_scene.Cluster.Jobs()).ToJsonString();
        Assert.DoesNotContain(_scene.Server.Options().SecretKey!, job, StringComparison.Ordinal);
        Assert.DoesNotContain(_scene.Server.Options().AccessKey!, job, StringComparison.Ordinal);
        Assert.Contains("secretKeyRef", job, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gpu-a100")]
    [InlineData("GPU pool/A100 ×8 (spot)")]
    [InlineData("-lead_and_trail-")]
    [InlineData("a-very-long-resource-name-that-goes-on-and-on-well-past-the-sixty-three-character-limit")]
    public void Label_values_are_always_valid_and_kept_when_they_already_are(string name)
    {
        var value = KubernetesProvider.LabelValue(name);
        Assert.Matches(LabelValuePattern(), value);
        Assert.InRange(value.Length, 1, 63);
        if (LabelValuePattern().IsMatch(name) && name.Length <= 63)
            Assert.Equal(name, value);
        Assert.Matches(DnsLabelPattern(), KubernetesProvider.JobName(name, "0123abcdef"));
    }

    [Fact]
    public void Names_that_differ_only_in_characters_labels_cannot_hold_get_different_labels() =>
        Assert.NotEqual(KubernetesProvider.LabelValue("gpu pool"), KubernetesProvider.LabelValue("gpu/pool"));

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelValuePattern();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabelPattern();

    [Fact]
    public void A_bad_kubernetes_section_is_refused_with_every_problem_named()
    {
        var config = Config(c =>
        {
            c.Resources["a100"].Slots = 2;
            c.Resources["t4"] = new ResourceConfig { Provider = "kubernetes" };
            c.Queues["gpu"].Add("t4");
            c.Kubernetes!.ServerUrl = "";
            c.Kubernetes.MaxPodsPerQueue["cpu"] = 0;
            c.Kubernetes.Templates["a100"].Requests["memory"] = "lots";
            c.Kubernetes.Templates["a100"].Env["CLEARML_API_SECRET_KEY"] = "inline";
            c.Kubernetes.Templates["a100"].Tolerations.Add(new KubernetesToleration { Key = "x", Operator = "In" });
        });
        var problems = config.Problems(["local", "kubernetes"]);
        Assert.Contains("kubernetes.templates.t4: resource t4 uses the kubernetes provider but has no template", problems);
        Assert.Contains("kubernetes.server_url: the server's API URL as pods reach it (http or https) is needed", problems);
        Assert.Contains("kubernetes.max_pods_per_queue.cpu: the autoscaler serves no such queue", problems);
        Assert.Contains("kubernetes.max_pods_per_queue.cpu: must be at least 1", problems);
        Assert.Contains("resources.a100.slots: a kubernetes pod runs one task, so slots must be 1", problems);
        Assert.Contains("kubernetes.templates.a100.requests.memory: 'lots' is not a Kubernetes quantity (e.g. 500m, 4Gi, 2)", problems);
        Assert.Contains("kubernetes.templates.a100.env.CLEARML_API_SECRET_KEY: the server address and credentials come from server_url and credentials_secret", problems);
        Assert.Contains("kubernetes.templates.a100.tolerations: operator must be Equal or Exists, not 'In'", problems);

        var missing = Config(c => c.Kubernetes = null).Problems(["local", "kubernetes"]);
        Assert.Contains("kubernetes: a resource uses the kubernetes provider, so the kubernetes section is needed", missing);
        Assert.Empty(Config().Problems(["local", "kubernetes"]));
    }

    [Fact]
    public async Task A_launch_creates_a_job_whose_running_pod_the_reconciler_sees_and_whose_agent_makes_it_ready()
    {
        var (loop, provider) = await StartLoopAsync(Config());
        using var _ = provider;
        await EnqueueAsync("train");

        var launch = Assert.Single(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Launch);
        var job = Assert.Single(_scene.Cluster.Jobs());
        Assert.Equal($"k8s-{launch.LaunchId}", job["metadata"]!["name"]!.GetValue<string>());
        Assert.Contains(_scene.Cluster.Calls, c => c.StartsWith("POST /apis/batch/v1/namespaces/ml/jobs", StringComparison.Ordinal));
        Assert.Equal(ProviderInstanceState.Pending, Assert.Single(await provider.ListAsync("k8s", default)).State);

        _scene.Cluster.PodRunning(launch.LaunchId!);
        var listed = Assert.Single(await provider.ListAsync("k8s", default));
        Assert.Equal((ProviderInstanceState.Running, launch.LaunchId, "a100", $"ml/k8s-{launch.LaunchId}"), (listed.State, listed.LaunchId, listed.Resource, listed.InstanceId));
        Assert.Contains(_scene.Cluster.Calls, c => c.Contains("labelSelector=slipway%2Fautoscaler%3Dk8s", StringComparison.Ordinal));

        await AgentReportsAsync(launch.LaunchId!, null);
        _scene.Clock.Advance(TimeSpan.FromSeconds(2));
        var ready = Assert.Single(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Ready);
        Assert.Equal(Reasons.Registered, ready.Reason);
        Assert.Equal(InstanceStatus.Ready, loop.State.Instances.Single().Status);
        Assert.Single(_scene.Cluster.Jobs()); // one pod for one task: nothing more launched
    }

    [Fact]
    public async Task An_unschedulable_pod_and_an_image_that_cannot_be_pulled_are_shown_in_the_waiting_tasks_status_message()
    {
        var (loop, provider) = await StartLoopAsync(Config());
        using var _ = provider;
        var task = await EnqueueAsync("train");
        var launch = (await loop.RunOnceAsync(default)).Single(d => d.Action == DecisionAction.Launch);

        _scene.Cluster.PodUnschedulable(launch.LaunchId!, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.");
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        var hold = Assert.Single(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Hold);
        Assert.Equal(Reasons.InstancePending, hold.Reason);
        var message = (await _scene.Client.Tasks.GetAsync(task)).StatusMessage;
        Assert.Contains("is unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.", message, StringComparison.Ordinal);
        Assert.Contains($"ml/k8s-{launch.LaunchId}", message, StringComparison.Ordinal);
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Hold); // said once, not at every pass

        _scene.Cluster.PodImagePullBackOff(launch.LaunchId!, "registry.example/slipway:1");
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        await loop.RunOnceAsync(default);
        Assert.Contains("cannot pull its image (ImagePullBackOff): Back-off pulling image \"registry.example/slipway:1\"",
            (await _scene.Client.Tasks.GetAsync(task)).StatusMessage, StringComparison.Ordinal);
        Assert.Single(_scene.Cluster.Jobs()); // waiting on the pod launches nothing more
    }

    [Fact]
    public async Task The_pod_of_an_aborted_task_is_deleted_whether_it_ran_or_still_waited()
    {
        var (loop, provider) = await StartLoopAsync(Config());
        using var _ = provider;
        var running = await EnqueueAsync("running");
        var first = (await loop.RunOnceAsync(default)).Single(d => d.Action == DecisionAction.Launch);
        _scene.Cluster.PodRunning(first.LaunchId!);
        // The pod's agent takes the task and reports it; then the task is aborted and the agent reports idle.
        Assert.Equal(running, await PopAsync());
        await AgentReportsAsync(first.LaunchId!, running);
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        await loop.RunOnceAsync(default);
        await _scene.Client.CallAsync("tasks.stop", new JsonObject { ["task"] = running, ["force"] = true });
        await AgentReportsAsync(first.LaunchId!, null);
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        var ended = Assert.Single(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Terminate);
        Assert.Equal(Reasons.TaskEnded, ended.Reason);
        Assert.Contains($"DELETE /apis/batch/v1/namespaces/ml/jobs/k8s-{first.LaunchId}?propagationPolicy=Background", _scene.Cluster.Calls);
        Assert.Empty(_scene.Cluster.Jobs());
        Assert.Empty(_scene.Cluster.Pods());

        // A task aborted while its pod is still pending: the pod is no longer needed and goes after the recheck.
        var waiting = await EnqueueAsync("waiting");
        var second = (await loop.RunOnceAsync(default)).Single(d => d.Action == DecisionAction.Launch);
        _scene.Cluster.PodUnschedulable(second.LaunchId!, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.");
        await _scene.Client.Tasks.DequeueAsync(waiting);
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Terminate);
        Assert.Single(_scene.Cluster.Jobs());
        _scene.Clock.Advance(TimeSpan.FromSeconds(6));
        var surplus = Assert.Single(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Terminate);
        Assert.Equal(Reasons.DemandGone, surplus.Reason);
        Assert.Empty(_scene.Cluster.Jobs());
    }

    [Fact]
    public async Task A_pod_whose_agent_ran_its_task_and_stopped_is_a_normal_end_not_an_interruption()
    {
        var (loop, provider) = await StartLoopAsync(Config());
        using var _ = provider;
        var task = await EnqueueAsync("one");
        var launch = (await loop.RunOnceAsync(default)).Single(d => d.Action == DecisionAction.Launch);
        _scene.Cluster.PodRunning(launch.LaunchId!);
        Assert.Equal(task, await PopAsync());
        await AgentReportsAsync(launch.LaunchId!, task);
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        await loop.RunOnceAsync(default);

        // The agent (--max-tasks 1) finishes, unregisters and exits: the pod succeeds.
        await _scene.Client.CallAsync("workers.unregister", new JsonObject { ["worker"] = $"k8s:a100:{launch.LaunchId}:cpu:0" });
        _scene.Cluster.SetPodStatus(launch.LaunchId!, new JsonObject { ["phase"] = "Succeeded" });
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        var decisions = await loop.RunOnceAsync(default);
        var end = Assert.Single(decisions, d => d.Action == DecisionAction.Terminate);
        Assert.Equal(Reasons.TaskEnded, end.Reason);
        Assert.DoesNotContain(decisions, d => d.Action is DecisionAction.Lost or DecisionAction.RequeueTask or DecisionAction.FailTask);
        Assert.Empty(loop.State.Interruptions);
        Assert.Empty(_scene.Cluster.Jobs()); // deleted at once, not left to the TTL

        // A pod that fails is a loss: its task is re-queued.
        var next = await EnqueueAsync("two");
        var second = (await loop.RunOnceAsync(default)).Single(d => d.Action == DecisionAction.Launch);
        _scene.Cluster.PodRunning(second.LaunchId!);
        Assert.Equal(next, await PopAsync());
        await AgentReportsAsync(second.LaunchId!, next);
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        await loop.RunOnceAsync(default);
        _scene.Cluster.SetPodStatus(second.LaunchId!, new JsonObject { ["phase"] = "Failed", ["reason"] = "Evicted", ["message"] = "The node was low on resource: memory." });
        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        var lost = await loop.RunOnceAsync(default);
        Assert.Contains(lost, d => d.Action == DecisionAction.Lost && d.Detail!.Contains("pod failed (Evicted): The node was low on resource: memory.", StringComparison.Ordinal));
        Assert.Contains(lost, d => d.Action == DecisionAction.RequeueTask && d.Tasks.Single() == next);
        Assert.Equal(1, loop.State.Interruptions["a100"]);
    }

    [Fact]
    public async Task The_max_pods_cap_of_a_queue_holds_launches_and_the_waiting_tasks_say_why()
    {
        var (loop, provider) = await StartLoopAsync(Config(c => c.Kubernetes!.MaxPodsPerQueue["gpu"] = 2));
        using var _ = provider;
        var tasks = new List<string>();
        for (var i = 0; i < 4; i++)
            tasks.Add(await EnqueueAsync($"t{i}"));

        var decisions = await loop.RunOnceAsync(default);
        Assert.Equal(2, decisions.Count(d => d.Action == DecisionAction.Launch));
        Assert.Equal(2, _scene.Cluster.Jobs().Count);
        Assert.All(decisions.Where(d => d.Action == DecisionAction.Hold), d => Assert.Equal(Reasons.MaxPods, d.Reason));
        foreach (var id in tasks.Skip(2))
            Assert.Equal("kubernetes: max_pods_per_queue 2 for queue gpu reached; waiting for a pod to end", (await _scene.Client.Tasks.GetAsync(id)).StatusMessage);

        _scene.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.Launch);
        Assert.Equal(2, _scene.Cluster.Jobs().Count);
    }

    [Theory]
    [InlineData(401, false, "HTTP 401 Unauthorized: the API server refused the credentials")]
    [InlineData(429, false, "HTTP 429 Too Many Requests: throttled by the API server")]
    [InlineData(500, false, "HTTP 500 Internal Server Error: the API server failed; retried at the next pass — etcdserver: request timed out")]
    [InlineData(200, true, "the API server's answer could not be read")]
    public async Task A_failing_list_is_a_clear_message_and_the_pass_does_nothing(int status, bool malformed, string expected)
    {
        var (loop, provider) = await StartLoopAsync(Config());
        using var _ = provider;
        await EnqueueAsync("train");
        _scene.Cluster.Fail("GET", "jobs", status, malformed: malformed);

        var error = await Assert.ThrowsAsync<ProviderException>(() => loop.RunOnceAsync(default));
        Assert.StartsWith("kubernetes: list Jobs and pods in namespace ml: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Empty(_scene.Cluster.Jobs());
        Assert.Empty(loop.State.Instances);
    }

    [Fact]
    public async Task A_refused_create_is_a_launch_failure_with_the_reason_and_no_job()
    {
        var (loop, provider) = await StartLoopAsync(Config());
        using var _ = provider;
        await EnqueueAsync("train");
        _scene.Cluster.Fail("POST", "jobs", 429);

        var failed = Assert.Single(await loop.RunOnceAsync(default), d => d.Action == DecisionAction.LaunchFailed);
        Assert.Equal(Reasons.ProviderError, failed.Reason);
        Assert.Contains("kubernetes: create Job ml/k8s-", failed.Detail, StringComparison.Ordinal);
        Assert.Contains("HTTP 429 Too Many Requests: throttled by the API server", failed.Detail, StringComparison.Ordinal);
        Assert.Empty(_scene.Cluster.Jobs());
    }

    [Fact]
    public async Task The_running_loop_survives_api_failures_and_launches_once_the_api_answers()
    {
        var config = Config(c => c.PollIntervalSeconds = 0.1);
        var provider = new KubernetesProvider(config.Kubernetes!);
        using var _ = provider;
        var loop = new AutoscalerLoop(config, new ServerConnection(_scene.Client), [provider]);
        // Failing from the start: the loop never has a listing to act on (one listing a pass old is used while the next is
        // asked for, so a failure that starts later lets one pass act on the listing before it).
        _scene.Cluster.Fail("GET", "jobs", 500);
        await loop.StartAsync(default);
        await EnqueueAsync("train");
        using var stop = new CancellationTokenSource();
        var run = loop.RunAsync(stop.Token);
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(_scene.Cluster.Calls.Count(c => c.StartsWith("GET /apis/batch", StringComparison.Ordinal))), n => n >= 3,
                TimeSpan.FromSeconds(20), "several failing passes");
            Assert.False(run.IsCompleted);
            Assert.Empty(_scene.Cluster.Jobs());
            _scene.Cluster.Heal();
            await Poll.UntilAsync(() => Task.FromResult(_scene.Cluster.Jobs().Count), n => n == 1, TimeSpan.FromSeconds(20), "a job once the API answers");
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
    }

    [Fact]
    public async Task Terminate_deletes_the_job_in_the_background_and_a_job_already_gone_is_not_an_error()
    {
        var config = Config();
        using var provider = new KubernetesProvider(config.Kubernetes!);
        var id = await provider.LaunchAsync(new LaunchRequest("k8s", "feedbeef01", "a100", "a100-pod", new Offering("a100-pod", null, Market.OnDemand), 1, ["gpu"]), default);
        Assert.Equal("ml/k8s-feedbeef01", id);
        await provider.TerminateAsync(id, default);
        await provider.TerminateAsync(id, default);
        Assert.Equal(2, _scene.Cluster.Calls.Count(c => c == "DELETE /apis/batch/v1/namespaces/ml/jobs/k8s-feedbeef01?propagationPolicy=Background"));
        Assert.Empty(_scene.Cluster.Jobs());

        _scene.Cluster.Fail("DELETE", "jobs", 401);
        var error = await Assert.ThrowsAsync<ProviderException>(() => provider.TerminateAsync(id, default));
        Assert.Contains("kubernetes: delete Job ml/k8s-feedbeef01: HTTP 401", error.Message, StringComparison.Ordinal);
    }
}
