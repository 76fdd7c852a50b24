using System.Text.Json.Nodes;
using Slipway.Autoscaler.Tests.Infrastructure;
using Slipway.Client;
using Slipway.Commands;

namespace Slipway.Autoscaler.Tests;

/// <summary>`slipway autoscaler` as a user runs it: the dry run, a bad file, and status.</summary>
public sealed class AutoscalerCommandTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private SlipwayClient _client = null!;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "slipway-autoscaler-cli-" + Guid.NewGuid().ToString("N")[..12]);

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.NewClient();
        await _client.Queues.CreateAsync("q");
        Directory.CreateDirectory(_dir);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string WriteConfig(string json)
    {
        var path = Path.Combine(_dir, "autoscaler.json");
        File.WriteAllText(path, json);
        return path;
    }

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Cli.RunAsync([.. args, "--conf", _server.Server.ConfigPath], output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private string GoodConfig() => WriteConfig($$"""
        { "name": "cli", "queues": { "q": ["cpu"] },
          "resources": { "cpu": { "provider": "local", "max_instances": 5 } },
          "local": { "work_directory": "{{_dir}}" } }
        """);

    [Fact]
    public async Task The_dry_run_prints_what_it_would_launch_and_why_and_launches_nothing()
    {
        for (var i = 0; i < 2; i++)
        {
            var id = (await _client.CallAsync("tasks.create", new JsonObject { ["name"] = $"t{i}", ["type"] = "training" }))["id"]!.GetValue<string>();
            await _client.Tasks.EnqueueAsync(id, "q");
        }
        var (exit, output, error) = await RunAsync("autoscaler", "--config", GoodConfig(), "--dry-run");
        Assert.True(exit == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("would launch cpu ", l, StringComparison.Ordinal));
        Assert.Contains("task(s) waiting in q", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.EnumerateFiles(_dir, "*.json"), f => !f.EndsWith("autoscaler.json", StringComparison.Ordinal));
        Assert.Null((await _client.CallAsync("autoscaler.get_state", new JsonObject { ["scaler"] = "cli" }))["state"]);
    }

    [Fact]
    public async Task A_kubernetes_file_as_the_readme_shows_it_is_read_and_its_dry_run_lists_the_cluster_and_creates_no_job()
    {
        await using var cluster = await KubernetesStandIn.StartAsync();
        var id = (await _client.CallAsync("tasks.create", new JsonObject { ["name"] = "gpu job", ["type"] = "training" }))["id"]!.GetValue<string>();
        await _client.Tasks.EnqueueAsync(id, "q");
        var path = WriteConfig($$"""
            { "name": "cluster", "queues": { "q": ["a100"] },
              "resources": { "a100": { "provider": "kubernetes", "machine_type": "a100-pod", "slots": 1, "max_instances": 8,
                                       "markets": [ { "market": "on_demand", "price_usd_per_hour": 3.2 } ] } },
              "kubernetes": {
                "api_server": "{{cluster.Url}}", "token_environment_variable": "SLIPWAY_TEST_NO_SUCH_TOKEN",
                "namespace": "ml", "server_url": "http://slipway.ml.svc:8008",
                "credentials_secret": { "name": "slipway-agent", "access_key_key": "access_key", "secret_key_key": "secret_key" },
                "max_pods_per_queue": { "q": 8 },
                "templates": { "a100": {
                  "image": "my-registry/slipway-agent:1", "gpus": 1, "requests": { "cpu": "8", "memory": "64Gi" }, "limits": { "memory": "96Gi" },
                  "node_selector": { "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB" },
                  "tolerations": [ { "key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule" } ],
                  "service_account": "slipway-runner", "env": { "CLEARML_FILES_HOST": "http://slipway.ml.svc:8081" },
                  "ttl_seconds_after_finished": 600, "idle_shutdown_seconds": 120 } } } }
            """);
        var (exit, output, error) = await RunAsync("autoscaler", "--config", path, "--dry-run");
        Assert.True(exit == 0, error);
        Assert.StartsWith("would launch a100 ", Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.Contains(cluster.Calls, c => c.StartsWith("GET /apis/batch/v1/namespaces/ml/jobs?labelSelector=", StringComparison.Ordinal));
        Assert.Empty(cluster.Jobs());
    }

    [Fact]
    public async Task A_bad_file_is_refused_with_every_problem_named()
    {
        var path = WriteConfig("""
            { "queues": { "q": ["gpu"], "missing": ["cpu"] },
              "resources": { "cpu": { "provider": "local", "min_instances": 2, "max_instances": 1 } } }
            """);
        var (exit, _, error) = await RunAsync("autoscaler", "--config", path, "--dry-run");
        Assert.Equal(ExitCodes.Configuration, exit);
        Assert.Contains("queues.q: unknown resource 'gpu'", error, StringComparison.Ordinal);
        Assert.Contains("queues.missing: the server has no such queue", error, StringComparison.Ordinal);
        Assert.Contains("min_instances (2) is greater than max_instances (1)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_ec2_section_is_refused_with_every_problem_named_before_any_cloud_call()
    {
        var path = WriteConfig("""
            { "name": "cli", "queues": { "q": ["gpu"] },
              "resources": { "gpu": { "provider": "ec2", "machine_type": "g5.xlarge",
                                      "markets": [ { "market": "spot", "zones": ["somewhere"] } ] } },
              "ec2": { "region": "nowhere", "ami": "ubuntu", "security_group_ids": ["open"] } }
            """);
        var (exit, _, error) = await RunAsync("autoscaler", "--config", path, "--dry-run");
        Assert.Equal(ExitCodes.Configuration, exit);
        Assert.Contains("ec2.region: 'nowhere' is not a region name", error, StringComparison.Ordinal);
        Assert.Contains("ec2.ami: 'ubuntu' is not an image id", error, StringComparison.Ordinal);
        Assert.Contains("ec2.security_group_ids: 'open'", error, StringComparison.Ordinal);
        Assert.Contains("resources.gpu.markets.spot.zones: 'somewhere'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ec2_section_without_a_server_url_is_refused_when_this_server_is_only_on_loopback()
    {
        var path = WriteConfig("""
            { "name": "cli", "queues": { "q": ["gpu"] },
              "resources": { "gpu": { "provider": "ec2", "machine_type": "g5.xlarge" } },
              "ec2": { "region": "us-east-1", "ami": "ami-0123456789abcdef0" } }
            """);
        var (exit, _, error) = await RunAsync("autoscaler", "--config", path, "--dry-run");
        Assert.Equal(ExitCodes.Configuration, exit);
        Assert.Contains("ec2.server_url: instances cannot reach", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_shows_the_instances_and_the_decisions()
    {
        var state = new AutoscalerState { Month = "2026-12" };
        state.Instances.Add(new InstanceRecord
        {
            LaunchId = "abc", InstanceId = "local-1-abc", Resource = "cpu", Market = Market.OnDemand, PriceUsdPerHour = 0.5m,
            Status = InstanceStatus.Ready, LaunchedAt = DateTimeOffset.UtcNow.AddMinutes(-5),
        });
        var connection = new ServerConnection(_client);
        await connection.SaveStateAsync("cli", state, default);
        await connection.AppendLogAsync("cli", [new Decision(DecisionAction.Launch, Reasons.Demand, "cpu", "abc", Detail: "1 task(s) waiting in q")], default);

        var (exit, output, error) = await RunAsync("autoscaler", "status");
        Assert.True(exit == 0, error);
        Assert.Contains("cli: 1 live instance(s), $0.5/h now", output, StringComparison.Ordinal);
        Assert.Contains("local-1-abc", output, StringComparison.Ordinal);
        Assert.Contains("launch cpu abc: demand 1 task(s) waiting in q", output, StringComparison.Ordinal);

        var (jsonExit, json, _) = await RunAsync("autoscaler", "status", "--json");
        Assert.Equal(0, jsonExit);
        var parsed = JsonNode.Parse(json)!.AsArray();
        Assert.Equal("ready", parsed[0]!["state"]!["instances"]![0]!["status"]!.GetValue<string>());
        Assert.Equal("launch", parsed[0]!["events"]![0]!["action"]!.GetValue<string>());
    }
}
