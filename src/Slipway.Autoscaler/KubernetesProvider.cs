using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Slipway.Autoscaler;

/// <summary>
/// Instances are Kubernetes Jobs, one per launch, whose single pod runs <c>slipway agent</c> for the resource's queues
/// and stops when idle (so a pod serves one task, and a dead autoscaler leaves none running). Jobs carry the
/// <see cref="ProviderTags"/> identity as labels (made label-safe) with the exact values in annotations, so listing by
/// label finds them after a restart. Node scaling stays with the cluster's own autoscaler (Karpenter, Cluster Autoscaler).
/// </summary>
public sealed class KubernetesProvider : IComputeProvider, IDisposable
{
    /// <summary>Label and annotation keys: the ProviderTags names with '/' for ':', which Kubernetes keys cannot hold.</summary>
    public static string LabelKey(string tag) => tag.Replace(':', '/');

    private const string ContainerName = "agent";
    private readonly KubernetesProviderConfig _config;
    private readonly Kubernetes _client;

    public KubernetesProvider(KubernetesProviderConfig config)
    {
        _config = config;
        _client = new Kubernetes(ClientConfiguration(config));
    }

    public string Name => KubernetesProviderConfig.ProviderName;

    /// <summary>The explicit API server (with a token from the named variable), else the kubeconfig, else the in-cluster service account.</summary>
    private static KubernetesClientConfiguration ClientConfiguration(KubernetesProviderConfig config)
    {
        if (config.ApiServer is { } url)
        {
            return new KubernetesClientConfiguration
            {
                Host = url,
                AccessToken = config.TokenEnvironmentVariable is { } name ? Environment.GetEnvironmentVariable(name) : null,
                HttpClientTimeout = TimeSpan.FromSeconds(30),
            };
        }
        if (config.Kubeconfig is null && Environment.GetEnvironmentVariable("KUBECONFIG") is null && KubernetesClientConfiguration.IsInCluster())
            return KubernetesClientConfiguration.InClusterConfig();
        try
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigFile(config.Kubeconfig, config.Context);
        }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or IOException)
        {
            throw new AutoscalerConfigException([$"kubernetes: cannot use the kubeconfig{(config.Kubeconfig is null ? "" : " " + config.Kubeconfig)}: {e.Message}"]);
        }
    }

    public async Task<string> LaunchAsync(LaunchRequest request, CancellationToken ct)
    {
        var job = BuildJob(request);
        var ns = job.Metadata.NamespaceProperty;
        try
        {
            await _client.BatchV1.CreateNamespacedJobAsync(job, ns, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Created by an earlier try whose answer was lost: the launch id is the same, so it is the same Job.
        }
        catch (Exception e) when (Failure(e, $"create Job {ns}/{job.Metadata.Name}") is { } failure)
        {
            if (e is HttpOperationException { Response.StatusCode: HttpStatusCode.Forbidden } h && h.Response.Content?.Contains("exceeded quota", StringComparison.Ordinal) == true)
                throw new OfferingUnavailableException(failure.Message);
            throw failure;
        }
        return $"{ns}/{job.Metadata.Name}";
    }

    public async Task<IReadOnlyList<ProviderInstance>> ListAsync(string scaler, CancellationToken ct)
    {
        var selector = $"{LabelKey(ProviderTags.Scaler)}={LabelValue(scaler)}";
        var found = new List<ProviderInstance>();
        foreach (var ns in Namespaces())
        {
            V1JobList jobs;
            V1PodList pods;
            try
            {
                jobs = await _client.BatchV1.ListNamespacedJobAsync(ns, labelSelector: selector, cancellationToken: ct).ConfigureAwait(false);
                pods = await _client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: selector, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (Exception e) when (Failure(e, $"list Jobs and pods in namespace {ns}") is { } failure)
            {
                throw failure;
            }
            var podsOf = (pods?.Items ?? []).Where(p => p?.Metadata?.Labels is not null)
                .GroupBy(p => p.Metadata.Labels.TryGetValue(LabelKey(ProviderTags.LaunchId), out var id) ? id : "")
                .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            foreach (var job in jobs?.Items ?? [])
            {
                if (job?.Metadata?.Annotations is not { } annotations
                    || !annotations.TryGetValue(LabelKey(ProviderTags.Scaler), out var owner) || owner != scaler
                    || !annotations.TryGetValue(LabelKey(ProviderTags.LaunchId), out var launchId) || string.IsNullOrEmpty(launchId)
                    || !annotations.TryGetValue(LabelKey(ProviderTags.Resource), out var resource) || string.IsNullOrEmpty(resource))
                    continue;
                var (state, detail, completed) = StateOf(job, podsOf.GetValueOrDefault(LabelValue(launchId)) ?? []);
                found.Add(new ProviderInstance($"{ns}/{job!.Metadata.Name}", launchId, resource, state, detail) { Completed = completed });
            }
        }
        return found;
    }

    public async Task TerminateAsync(string instanceId, CancellationToken ct)
    {
        var slash = instanceId.IndexOf('/', StringComparison.Ordinal);
        var (ns, name) = slash > 0 ? (instanceId[..slash], instanceId[(slash + 1)..]) : (_config.Namespace, instanceId);
        try
        {
            // Background: the Job goes at once and Kubernetes deletes its pod after it, so the call does not wait on the pod's grace period.
            await _client.BatchV1.DeleteNamespacedJobAsync(name, ns, propagationPolicy: "Background", cancellationToken: ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
        catch (Exception e) when (Failure(e, $"delete Job {ns}/{name}") is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>Where the provider's Jobs may be: the section's namespace and every template's.</summary>
    private IEnumerable<string> Namespaces() =>
        _config.Templates.Values.Select(t => t.Namespace ?? _config.Namespace).Append(_config.Namespace).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    /// <summary>
    /// The Job of one launch. Labels carry the identity (label-safe), annotations the exact values; the pod gets the
    /// server's address in plain text and its credentials only as references to the configured Secret.
    /// </summary>
    public V1Job BuildJob(LaunchRequest request)
    {
        if (!_config.Templates.TryGetValue(request.Resource, out var template))
            throw new InvalidOperationException($"kubernetes: resource {request.Resource} has no template");
        var ns = template.Namespace ?? _config.Namespace;
        var labels = request.Tags.ToDictionary(t => LabelKey(t.Key), t => LabelValue(t.Value));
        labels["app.kubernetes.io/managed-by"] = "slipway-autoscaler";
        if (request.Queues.Count > 0)
            labels["slipway/queue"] = LabelValue(request.Queues[0]);
        var annotations = request.Tags.ToDictionary(t => LabelKey(t.Key), t => t.Value);
        annotations["slipway/queues"] = string.Join(",", request.Queues);
        annotations["slipway/worker-prefix"] = request.WorkerPrefix;

        // --max-tasks 1: the pod's agent runs one task and stops, so the pod completes and is never deleted under a next task.
        var args = new List<string>(template.Command.Skip(1)) { "agent", "--worker-id", request.WorkerPrefix, "--slots", "1", "--max-tasks", "1" };
        foreach (var queue in request.Queues)
            args.AddRange(["--queue", queue]);
        if (template.IdleShutdownSeconds is { } idle)
            args.AddRange(["--idle-shutdown", idle.ToString(CultureInfo.InvariantCulture) + "s"]);
        args.AddRange(template.AgentArguments);

        var env = new List<V1EnvVar> { new() { Name = "CLEARML_API_HOST", Value = _config.ServerUrl } };
        if (_config.CredentialsSecret is { } secret)
        {
            env.Add(new V1EnvVar { Name = "CLEARML_API_ACCESS_KEY", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secret.Name, Key = secret.AccessKeyKey } } });
            env.Add(new V1EnvVar { Name = "CLEARML_API_SECRET_KEY", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secret.Name, Key = secret.SecretKeyKey } } });
        }
        env.AddRange(template.Env.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new V1EnvVar { Name = e.Key, Value = e.Value }));

        var requests = template.Requests.ToDictionary(r => r.Key, r => new ResourceQuantity(r.Value));
        var limits = template.Limits.ToDictionary(r => r.Key, r => new ResourceQuantity(r.Value));
        if (template.Gpus > 0)
        {
            // An extended resource is requested whole: requests equal limits.
            requests["nvidia.com/gpu"] = new ResourceQuantity(template.Gpus.ToString(CultureInfo.InvariantCulture));
            limits["nvidia.com/gpu"] = new ResourceQuantity(template.Gpus.ToString(CultureInfo.InvariantCulture));
        }

        var container = new V1Container
        {
            Name = ContainerName,
            Image = template.Image,
            ImagePullPolicy = template.ImagePullPolicy,
            Command = [template.Command[0]],
            Args = args,
            Env = env,
            Resources = new V1ResourceRequirements
            {
                Requests = requests.Count > 0 ? requests : null,
                Limits = limits.Count > 0 ? limits : null,
            },
        };
        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta { Name = JobName(request.Scaler, request.LaunchId), NamespaceProperty = ns, Labels = labels, Annotations = annotations },
            Spec = new V1JobSpec
            {
                // The agent reports the task's outcome itself; a failed pod is not retried (the reconciler decides about the task).
                BackoffLimit = 0,
                TtlSecondsAfterFinished = template.TtlSecondsAfterFinished,
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string>(labels), Annotations = new Dictionary<string, string>(annotations) },
                    Spec = new V1PodSpec
                    {
                        RestartPolicy = "Never",
                        ServiceAccountName = template.ServiceAccount,
                        NodeSelector = template.NodeSelector.Count > 0 ? new Dictionary<string, string>(template.NodeSelector) : null,
                        Tolerations = template.Tolerations.Count > 0
                            ? template.Tolerations.Select(t => new V1Toleration { Key = t.Key, OperatorProperty = t.Operator, Value = t.Value, Effect = t.Effect, TolerationSeconds = t.TolerationSeconds }).ToList()
                            : null,
                        Containers = [container],
                    },
                },
            },
        };
    }

    /// <summary>
    /// Pending, Running or Gone from the Job's conditions and its pod's phase; a pod that cannot be placed or whose image
    /// cannot be pulled stays Pending with the reason as detail, which the reconciler shows in the waiting tasks' messages.
    /// </summary>
    internal static (ProviderInstanceState State, string? Detail, bool Completed) StateOf(V1Job job, IReadOnlyList<V1Pod> pods)
    {
        if (job.Metadata.DeletionTimestamp is not null)
            return (ProviderInstanceState.Gone, "the Job is being deleted", false);
        foreach (var condition in job.Status?.Conditions ?? [])
        {
            if (condition.Status == "True" && condition.Type is "Complete" or "Failed")
                return (ProviderInstanceState.Gone, $"Job {condition.Type.ToLowerInvariant()}{Reason(condition.Reason, condition.Message)}", condition.Type == "Complete");
        }
        var pod = pods.Where(p => p.Metadata?.DeletionTimestamp is null).OrderByDescending(p => p.Metadata?.CreationTimestamp).FirstOrDefault();
        if (pod is null)
            return (ProviderInstanceState.Pending, null, false);
        switch (pod.Status?.Phase)
        {
            case "Running":
                return (ProviderInstanceState.Running, null, false);
            case "Succeeded":
                return (ProviderInstanceState.Gone, "pod succeeded (its agent stopped)", true);
            case "Failed":
                return (ProviderInstanceState.Gone, $"pod failed{Reason(pod.Status.Reason, pod.Status.Message)}", false);
        }
        foreach (var waiting in (pod.Status?.ContainerStatuses ?? []).Select(c => c.State?.Waiting).OfType<V1ContainerStateWaiting>())
        {
            if (waiting.Reason is "ImagePullBackOff" or "ErrImagePull" or "InvalidImageName" or "ErrImageNeverPull")
                return (ProviderInstanceState.Pending, $"kubernetes: pod {pod.Metadata?.Name} cannot pull its image{Reason(waiting.Reason, waiting.Message)}", false);
            if (waiting.Reason is "CreateContainerConfigError" or "CreateContainerError" or "CrashLoopBackOff")
                return (ProviderInstanceState.Pending, $"kubernetes: pod {pod.Metadata?.Name} cannot start{Reason(waiting.Reason, waiting.Message)}", false);
        }
        if (pod.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled") is { Status: "False" } scheduled)
            return (ProviderInstanceState.Pending, $"kubernetes: pod {pod.Metadata?.Name} is {(scheduled.Reason ?? "not scheduled").ToLowerInvariant()}{Reason(null, scheduled.Message)}", false);
        return (ProviderInstanceState.Pending, null, false);
    }

    private static string Reason(string? reason, string? message) =>
        (reason, message) switch
        {
            (null or "", null or "") => "",
            (null or "", _) => $": {message}",
            (_, null or "") => $" ({reason})",
            _ => $" ({reason}): {message}",
        };

    /// <summary>
    /// An API failure as a message that says what was tried and what to check; null for cancellation, which is not a failure.
    /// Nothing is acted on after one: the pass is dropped and the next one starts over.
    /// </summary>
    private static ProviderException? Failure(Exception e, string what)
    {
        switch (e)
        {
            case HttpOperationException h:
                var code = (int)h.Response.StatusCode;
                var hint = h.Response.StatusCode switch
                {
                    HttpStatusCode.Unauthorized => "the API server refused the credentials (check the kubeconfig or token)",
                    HttpStatusCode.Forbidden => "forbidden: the service account needs create, list and delete on jobs and list on pods",
                    HttpStatusCode.TooManyRequests => "throttled by the API server; retried at the next pass",
                    >= HttpStatusCode.InternalServerError => "the API server failed; retried at the next pass",
                    _ => "the API server refused the request",
                };
                return new ProviderException($"kubernetes: {what}: HTTP {code} {h.Response.ReasonPhrase}: {hint}{StatusMessage(h.Response.Content)}", e);
            case JsonException or FormatException or NotSupportedException:
                return new ProviderException($"kubernetes: {what}: the API server's answer could not be read ({e.Message})", e);
            case HttpRequestException or IOException:
                return new ProviderException($"kubernetes: {what}: cannot reach the API server ({e.Message})", e);
            case TaskCanceledException or TimeoutException:
                return new ProviderException($"kubernetes: {what}: the API server did not answer in time", e);
            default:
                return null;
        }
    }

    /// <summary>The message of a Kubernetes Status body, shortened; nothing when the body is not one.</summary>
    private static string StatusMessage(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
            return "";
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text)
                return " — " + (text.Length > 300 ? text[..300] + "…" : text);
        }
        catch (JsonException)
        {
        }
        return "";
    }

    /// <summary>A Job name (DNS label, short enough for the pod names made from it) from the scaler and the launch id.</summary>
    public static string JobName(string scaler, string launchId)
    {
        var text = new StringBuilder();
        foreach (var c in scaler.ToLowerInvariant())
            text.Append(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-');
        var prefix = text.ToString().Trim('-');
        if (prefix.Length > 30)
            prefix = prefix[..30].Trim('-');
        return $"{(prefix.Length == 0 ? "slipway" : prefix)}-{LabelValue(launchId).ToLowerInvariant()}";
    }

    /// <summary>
    /// A label value (at most 63 of letters, digits, '-', '_', '.', starting and ending alphanumeric). A value that is one
    /// already is kept; another is cleaned and given a hash of the original, so two names never share a label.
    /// </summary>
    public static string LabelValue(string value)
    {
        if (value.Length is > 0 and <= 63 && value.All(Allowed) && char.IsAsciiLetterOrDigit(value[0]) && char.IsAsciiLetterOrDigit(value[^1]))
            return value;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..8];
        var cleaned = new string(value.Select(c => Allowed(c) ? c : '-').ToArray()).Trim('-', '_', '.');
        if (cleaned.Length > 54)
            cleaned = cleaned[..54].TrimEnd('-', '_', '.');
        return cleaned.Length == 0 ? "x" + hash : $"{cleaned}-{hash}";

        static bool Allowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
    }

    public void Dispose() => _client.Dispose();
}
