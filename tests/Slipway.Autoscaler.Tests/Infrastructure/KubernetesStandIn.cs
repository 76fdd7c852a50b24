using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>
/// The few Kubernetes API calls the provider makes, answered on loopback with the JSON a real API server sends: Jobs
/// created, listed by label selector and deleted; each Job gets one pod whose phase and conditions the test sets, as the
/// scheduler and the kubelet would. Failures (an HTTP status with a Status body, or a body that is not JSON) are injected per call.
/// </summary>
public sealed class KubernetesStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, JsonObject> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject> _pods = new(StringComparer.Ordinal);
    private readonly List<string> _calls = [];
    private (string Method, string Kind, int Status, string Body, int Left)? _failure;

    private KubernetesStandIn(WebApplication app) => _app = app;

    public string Url => _app.Urls.First();

    /// <summary>Every call as "METHOD path?query", in order.</summary>
    public IReadOnlyList<string> Calls
    {
        get
        {
            lock (_lock)
                return _calls.ToList();
        }
    }

    public static async Task<KubernetesStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var standIn = new KubernetesStandIn(app);
        app.MapPost("/apis/batch/v1/namespaces/{ns}/jobs", (HttpContext http, string ns) => standIn.CreateJobAsync(http, ns));
        app.MapGet("/apis/batch/v1/namespaces/{ns}/jobs", (HttpContext http, string ns) => standIn.List(http, "jobs", ns));
        app.MapGet("/api/v1/namespaces/{ns}/pods", (HttpContext http, string ns) => standIn.List(http, "pods", ns));
        app.MapDelete("/apis/batch/v1/namespaces/{ns}/jobs/{name}", (HttpContext http, string ns, string name) => standIn.DeleteJob(http, ns, name));
        await app.StartAsync();
        return standIn;
    }

    /// <summary>The next <paramref name="times"/> calls of this method on jobs or pods answer with <paramref name="status"/>; 200 with a body that is not JSON when <paramref name="malformed"/>.</summary>
    public void Fail(string method, string kind, int status, int times = int.MaxValue, bool malformed = false)
    {
        var body = malformed
            ? "{\"kind\": \"JobList\", \"items\": [ {\"metadata\": "
            : new JsonObject
            {
                ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Failure", ["code"] = status,
                ["reason"] = status switch { 401 => "Unauthorized", 403 => "Forbidden", 429 => "TooManyRequests", _ => "InternalError" },
                ["message"] = status switch { 401 => "Unauthorized", 429 => "too many requests, please try again later", _ => "etcdserver: request timed out" },
            }.ToJsonString();
        lock (_lock)
            _failure = (method, kind, status, body, times);
    }

    public void Heal()
    {
        lock (_lock)
            _failure = null;
    }

    public List<JsonObject> Jobs()
    {
        lock (_lock)
            return _jobs.Values.Select(j => (JsonObject)j.DeepClone()).ToList();
    }

    public List<JsonObject> Pods()
    {
        lock (_lock)
            return _pods.Values.Select(p => (JsonObject)p.DeepClone()).ToList();
    }

    /// <summary>Sets the status of the pod of the Job with this launch id (the scheduler's or kubelet's part).</summary>
    public void SetPodStatus(string launchId, JsonObject status)
    {
        lock (_lock)
        {
            var pod = _pods.Values.Single(p => p["metadata"]!["labels"]!["slipway/launch-id"]!.GetValue<string>() == launchId);
            pod["status"] = status;
        }
    }

    public void PodRunning(string launchId) => SetPodStatus(launchId, new JsonObject
    {
        ["phase"] = "Running",
        ["conditions"] = new JsonArray(new JsonObject { ["type"] = "PodScheduled", ["status"] = "True" }, new JsonObject { ["type"] = "Ready", ["status"] = "True" }),
        ["containerStatuses"] = new JsonArray(new JsonObject
        {
            ["name"] = "agent", ["ready"] = true, ["restartCount"] = 0, ["image"] = "img", ["imageID"] = "img@sha256:00",
            ["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = "2026-12-02T12:00:00Z" } },
        }),
    });

    public void PodUnschedulable(string launchId, string message) => SetPodStatus(launchId, new JsonObject
    {
        ["phase"] = "Pending",
        ["conditions"] = new JsonArray(new JsonObject
        {
            ["type"] = "PodScheduled", ["status"] = "False", ["reason"] = "Unschedulable", ["message"] = message,
            ["lastTransitionTime"] = "2026-12-02T12:00:00Z",
        }),
    });

    public void PodImagePullBackOff(string launchId, string image) => SetPodStatus(launchId, new JsonObject
    {
        ["phase"] = "Pending",
        ["conditions"] = new JsonArray(new JsonObject { ["type"] = "PodScheduled", ["status"] = "True" }),
        ["containerStatuses"] = new JsonArray(new JsonObject
        {
            ["name"] = "agent", ["ready"] = false, ["restartCount"] = 0, ["image"] = image, ["imageID"] = "",
            ["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ImagePullBackOff", ["message"] = $"Back-off pulling image \"{image}\"" } },
        }),
    });

    private IResult? Injected(HttpContext http, string kind)
    {
        lock (_lock)
        {
            _calls.Add($"{http.Request.Method} {http.Request.Path}{http.Request.QueryString}");
            if (_failure is not { } f || f.Method != http.Request.Method || f.Kind != kind || f.Left <= 0)
                return null;
            _failure = f with { Left = f.Left - 1 };
            return f.Status == 200 ? Results.Text(f.Body, "application/json") : Results.Text(f.Body, "application/json", statusCode: f.Status);
        }
    }

    private async Task<IResult> CreateJobAsync(HttpContext http, string ns)
    {
        if (Injected(http, "jobs") is { } failure)
            return failure;
        var job = (JsonObject)(await JsonNode.ParseAsync(http.Request.Body))!;
        var name = job["metadata"]!["name"]!.GetValue<string>();
        lock (_lock)
        {
            if (_jobs.ContainsKey($"{ns}/{name}"))
                return Status(409, "AlreadyExists", $"jobs.batch \"{name}\" already exists");
            var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
            var meta = job["metadata"]!.AsObject();
            meta["namespace"] = ns;
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = now;
            meta["resourceVersion"] = "1";
            job["status"] = new JsonObject { ["active"] = 1, ["startTime"] = now };
            _jobs[$"{ns}/{name}"] = job;
            var template = job["spec"]!["template"]!.AsObject();
            var podName = $"{name}-{Guid.NewGuid().ToString("N")[..5]}";
            var labels = (JsonObject)template["metadata"]!["labels"]!.DeepClone();
            labels["job-name"] = name;
            _pods[$"{ns}/{podName}"] = new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Pod",
                ["metadata"] = new JsonObject { ["name"] = podName, ["namespace"] = ns, ["labels"] = labels, ["creationTimestamp"] = now, ["uid"] = Guid.NewGuid().ToString() },
                ["spec"] = template["spec"]!.DeepClone(),
                ["status"] = new JsonObject { ["phase"] = "Pending" },
            };
            return Results.Text(job.ToJsonString(), "application/json", statusCode: 201);
        }
    }

    private IResult List(HttpContext http, string kind, string ns)
    {
        if (Injected(http, kind) is { } failure)
            return failure;
        var selector = ((string?)http.Request.Query["labelSelector"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Split('=', 2)).ToList();
        lock (_lock)
        {
            var items = (kind == "jobs" ? _jobs : _pods).Where(e => e.Key.StartsWith(ns + "/", StringComparison.Ordinal)).Select(e => e.Value)
                .Where(o => selector.All(s => o["metadata"]!["labels"]?[s[0]]?.GetValue<string>() == s[1]))
                .Select(o => (JsonNode)o.DeepClone()).ToArray();
            var list = new JsonObject
            {
                ["kind"] = kind == "jobs" ? "JobList" : "PodList", ["apiVersion"] = kind == "jobs" ? "batch/v1" : "v1",
                ["metadata"] = new JsonObject { ["resourceVersion"] = "7" }, ["items"] = new JsonArray(items),
            };
            return Results.Text(list.ToJsonString(), "application/json");
        }
    }

    private IResult DeleteJob(HttpContext http, string ns, string name)
    {
        if (Injected(http, "jobs") is { } failure)
            return failure;
        lock (_lock)
        {
            if (!_jobs.Remove($"{ns}/{name}"))
                return Status(404, "NotFound", $"jobs.batch \"{name}\" not found");
            // Background propagation: the pods go after the Job (at once here).
            foreach (var key in _pods.Where(p => p.Value["metadata"]!["labels"]!["job-name"]!.GetValue<string>() == name).Select(p => p.Key).ToList())
                _pods.Remove(key);
            return Results.Text(new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Success" }.ToJsonString(), "application/json");
        }
    }

    private static IResult Status(int code, string reason, string message) => Results.Text(new JsonObject
    {
        ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Failure", ["reason"] = reason, ["message"] = message, ["code"] = code,
    }.ToJsonString(), "application/json", statusCode: code);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
