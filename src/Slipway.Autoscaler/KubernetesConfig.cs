using System.Text.RegularExpressions;

namespace Slipway.Autoscaler;

/// <summary>
/// The <c>kubernetes</c> section: how to reach the cluster, what the pods' agents talk to, and one Job template per
/// resource whose provider is <c>kubernetes</c>. Each launch is one Job whose pod runs <c>slipway agent</c> for one task.
/// </summary>
public sealed partial class KubernetesProviderConfig
{
    public const string ProviderName = "kubernetes";

    /// <summary>An explicit API server URL (tests, <c>kubectl proxy</c>); when unset the kubeconfig, else the in-cluster service account.</summary>
    public string? ApiServer { get; set; }

    /// <summary>A bearer token for <see cref="ApiServer"/> is read from this environment variable (never written in the file).</summary>
    public string? TokenEnvironmentVariable { get; set; }

    /// <summary>The kubeconfig file (default: KUBECONFIG, else ~/.kube/config) and its context (default: the current one).</summary>
    public string? Kubeconfig { get; set; }

    public string? Context { get; set; }

    /// <summary>The namespace of templates that name none.</summary>
    public string Namespace { get; set; } = "default";

    /// <summary>The Slipway server's API address as seen from inside a pod (CLEARML_API_HOST of the pod's agent).</summary>
    public string ServerUrl { get; set; } = "";

    /// <summary>The Kubernetes Secret the pods' agents take their server credentials from; the manifest only names it.</summary>
    public SecretReference? CredentialsSecret { get; set; }

    /// <summary>Queue name → at most this many live pods of the resources serving it.</summary>
    public Dictionary<string, int> MaxPodsPerQueue { get; set; } = [];

    /// <summary>Resource name → the Job its launches create.</summary>
    public Dictionary<string, KubernetesTemplate> Templates { get; set; } = [];

    /// <summary>Every problem of the section, named as in the file.</summary>
    internal IEnumerable<string> Problems(AutoscalerConfig config)
    {
        foreach (var (name, resource) in config.Resources)
        {
            if (resource?.Provider == ProviderName && !Templates.ContainsKey(name))
                yield return $"kubernetes.templates.{name}: resource {name} uses the kubernetes provider but has no template";
        }
        if (ApiServer is { } url && !(Uri.TryCreate(url, UriKind.Absolute, out var api) && api.Scheme is "http" or "https"))
            yield return "kubernetes.api_server: must be an http or https URL";
        if (!(Uri.TryCreate(ServerUrl, UriKind.Absolute, out var server) && server.Scheme is "http" or "https"))
            yield return "kubernetes.server_url: the server's API URL as pods reach it (http or https) is needed";
        if (!DnsLabel().IsMatch(Namespace))
            yield return $"kubernetes.namespace: '{Namespace}' is not a valid namespace name";
        if (CredentialsSecret is { } secret)
        {
            if (!DnsSubdomain().IsMatch(secret.Name ?? ""))
                yield return "kubernetes.credentials_secret.name: must be a Secret name (lower-case letters, digits, '-' and '.')";
            if (string.IsNullOrWhiteSpace(secret.AccessKeyKey) || string.IsNullOrWhiteSpace(secret.SecretKeyKey))
                yield return "kubernetes.credentials_secret: access_key_key and secret_key_key must name keys of the Secret";
        }
        foreach (var (queue, cap) in MaxPodsPerQueue)
        {
            if (!config.Queues.ContainsKey(queue))
                yield return $"kubernetes.max_pods_per_queue.{queue}: the autoscaler serves no such queue";
            if (cap < 1)
                yield return $"kubernetes.max_pods_per_queue.{queue}: must be at least 1";
        }
        foreach (var (name, template) in Templates)
        {
            var at = $"kubernetes.templates.{name}";
            if (!config.Resources.TryGetValue(name, out var resource) || resource?.Provider != ProviderName)
                yield return $"{at}: no resource {name} with provider kubernetes";
            if (template is null)
            {
                yield return $"{at}: empty";
                continue;
            }
            if (resource is { Slots: not 1 })
                yield return $"resources.{name}.slots: a kubernetes pod runs one task, so slots must be 1";
            if (string.IsNullOrWhiteSpace(template.Image))
                yield return $"{at}.image: an image with slipway in it is needed";
            if (template.Namespace is { } ns && !DnsLabel().IsMatch(ns))
                yield return $"{at}.namespace: '{ns}' is not a valid namespace name";
            if (template.Command.Count == 0)
                yield return $"{at}.command: must name the slipway executable";
            foreach (var (kind, quantities) in new[] { ("requests", template.Requests), ("limits", template.Limits) })
            {
                foreach (var (key, value) in quantities)
                {
                    if (!Quantity().IsMatch(value ?? ""))
                        yield return $"{at}.{kind}.{key}: '{value}' is not a Kubernetes quantity (e.g. 500m, 4Gi, 2)";
                }
            }
            if (template.Gpus is < 0 or > 64)
                yield return $"{at}.gpus: must be between 0 and 64";
            if (template.ServiceAccount is { } account && !DnsSubdomain().IsMatch(account))
                yield return $"{at}.service_account: '{account}' is not a valid name";
            if (template.TtlSecondsAfterFinished is < 0)
                yield return $"{at}.ttl_seconds_after_finished: must not be negative";
            if (template.IdleShutdownSeconds is < 1)
                yield return $"{at}.idle_shutdown_seconds: must be at least 1";
            foreach (var toleration in template.Tolerations)
            {
                if (toleration.Operator is not ("Equal" or "Exists"))
                    yield return $"{at}.tolerations: operator must be Equal or Exists, not '{toleration.Operator}'";
                if (toleration.Effect is not (null or "NoSchedule" or "PreferNoSchedule" or "NoExecute"))
                    yield return $"{at}.tolerations: effect must be NoSchedule, PreferNoSchedule or NoExecute, not '{toleration.Effect}'";
            }
            foreach (var key in template.Env.Keys.Where(k => k.StartsWith("CLEARML_API_", StringComparison.Ordinal)))
                yield return $"{at}.env.{key}: the server address and credentials come from server_url and credentials_secret";
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex(@"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")]
    private static partial Regex Quantity();
}

/// <summary>A key pair in a Kubernetes Secret: only the names go into manifests.</summary>
public sealed class SecretReference
{
    public string? Name { get; set; }

    public string AccessKeyKey { get; set; } = "access_key";

    public string SecretKeyKey { get; set; } = "secret_key";
}

/// <summary>What one launch of a kubernetes resource creates: the pod's image, resources, placement and environment.</summary>
public sealed class KubernetesTemplate
{
    public string Image { get; set; } = "";

    /// <summary>Default: the section's namespace.</summary>
    public string? Namespace { get; set; }

    /// <summary>The slipway executable inside the image; <c>agent …</c> arguments are appended.</summary>
    public List<string> Command { get; set; } = ["slipway"];

    /// <summary>Extra <c>slipway agent</c> arguments (e.g. --system-python).</summary>
    public List<string> AgentArguments { get; set; } = [];

    public string? ImagePullPolicy { get; set; }

    /// <summary>Resource requests and limits (cpu, memory, ephemeral-storage …) as Kubernetes quantities.</summary>
    public Dictionary<string, string> Requests { get; set; } = [];

    public Dictionary<string, string> Limits { get; set; } = [];

    /// <summary>GPUs per pod, requested and limited as <c>nvidia.com/gpu</c>.</summary>
    public int Gpus { get; set; }

    public Dictionary<string, string> NodeSelector { get; set; } = [];

    public List<KubernetesToleration> Tolerations { get; set; } = [];

    public string? ServiceAccount { get; set; }

    /// <summary>Plain environment variables for the agent and its tasks (no secrets: those belong in the Secret).</summary>
    public Dictionary<string, string> Env { get; set; } = [];

    /// <summary>How long a finished Job is kept for <c>kubectl logs</c> before Kubernetes deletes it.</summary>
    public int? TtlSecondsAfterFinished { get; set; } = 600;

    /// <summary>The pod's agent stops (and the pod ends) when idle this long: a dead autoscaler leaves no pod running.</summary>
    public int? IdleShutdownSeconds { get; set; } = 120;
}

public sealed class KubernetesToleration
{
    public string? Key { get; set; }

    public string Operator { get; set; } = "Equal";

    public string? Value { get; set; }

    public string? Effect { get; set; }

    public long? TolerationSeconds { get; set; }
}
