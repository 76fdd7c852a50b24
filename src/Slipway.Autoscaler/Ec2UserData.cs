using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Slipway.Autoscaler;

/// <summary>
/// The boot script of an EC2 instance. It holds no long-lived key: only the server's address and a one-time enrollment
/// token (void once used, and at the spin-up timeout), which the agent trades for a key pair of its own. No <c>set -x</c>,
/// and the token travels to the agent in its environment, not on a command line that <c>ps</c> shows.
/// </summary>
public static partial class Ec2UserData
{
    /// <summary>Where the agent works; the variable lets a stand-in cloud run the script unprivileged.</summary>
    public const string AgentDirectoryVariable = "SLIPWAY_AGENT_DIR";

    /// <summary>The metadata service's address (IMDSv2); the variable lets a stand-in cloud point it elsewhere.</summary>
    public const string MetadataVariable = "SLIPWAY_IMDS";

    public const string TokenVariable = "SLIPWAY_ENROLLMENT_TOKEN";

    public static string Render(LaunchRequest request, Ec2ProviderConfig ec2, Uri server, Enrollment enrollment)
    {
        var script = new StringBuilder();
        script.Append("#!/bin/sh\n");
        script.Append(CultureInfo.InvariantCulture, $"# Slipway autoscaled instance: autoscaler {Comment(request.Scaler)}, resource {Comment(request.Resource)}, launch {Comment(request.LaunchId)}.\n");
        script.Append("# No long-lived key here: the agent trades the one-time enrollment token below for its own key pair (the token is void once used,\n");
        script.Append(CultureInfo.InvariantCulture, $"# and after {enrollment.Expires.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC). Do not turn on shell tracing: it would print the token to the console.\n");
        script.Append("set -eu\numask 077\n");
        script.Append(CultureInfo.InvariantCulture, $"dir=\"${{{AgentDirectoryVariable}:-/var/lib/slipway-agent}}\"\n");
        script.Append("mkdir -p \"$dir\"\ncd \"$dir\"\n");
        foreach (var line in ec2.SetupCommands)
            script.Append(line).Append('\n');
        // The instance id, for the server's records, through IMDSv2 (the launch requires session tokens).
        script.Append(CultureInfo.InvariantCulture, $"imds=\"${{{MetadataVariable}:-http://169.254.169.254}}\"\n");
        script.Append("instance_id=\"\"\n");
        script.Append("if command -v curl >/dev/null 2>&1; then\n");
        script.Append("  imds_token=\"$(curl -fsS -m 2 -X PUT \"$imds/latest/api/token\" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' 2>/dev/null || true)\"\n");
        script.Append("  if [ -n \"$imds_token\" ]; then\n");
        script.Append("    instance_id=\"$(curl -fsS -m 2 -H \"X-aws-ec2-metadata-token: $imds_token\" \"$imds/latest/meta-data/instance-id\" 2>/dev/null || true)\"\n");
        script.Append("  fi\n");
        script.Append("  unset imds_token\n");
        script.Append("fi\n");
        if (ec2.FilesServerUrl is { } files)
            script.Append(CultureInfo.InvariantCulture, $"export CLEARML_FILES_HOST={Quote(files.TrimEnd('/'))}\n");
        if (ec2.WebServerUrl is { } web)
            script.Append(CultureInfo.InvariantCulture, $"export CLEARML_WEB_HOST={Quote(web.TrimEnd('/'))}\n");
        script.Append(CultureInfo.InvariantCulture, $"{TokenVariable}={Quote(enrollment.Token)}\nexport {TokenVariable}\n");
        var agent = new List<string>
        {
            ec2.AgentCommand, "agent", "--enroll-server", server.ToString().TrimEnd('/'), "--worker-id", request.WorkerPrefix,
            "--slots", request.Slots.ToString(CultureInfo.InvariantCulture), "--work-dir", "work",
            "--shutdown-if-server-unreachable", ec2.ServerUnreachableShutdownMinutes.ToString("0.###", CultureInfo.InvariantCulture) + "m",
        };
        foreach (var queue in request.Queues)
            agent.AddRange(["--queue", queue]);
        // A spot instance's agent watches for the reclaim notice (at SLIPWAY_IMDS, as above), re-queues its tasks at once and
        // reports it, so the autoscaler replaces the machine before EC2 takes it.
        if (request.Offering.Market == Market.Spot)
            agent.Add("--watch-spot-notice");
        agent.AddRange(ec2.AgentArguments);
        // The agent runs in the foreground; whatever ends it (idle, unreachable server, a refused token), the machine then
        // shuts down, which InstanceInitiatedShutdownBehavior=terminate turns into a terminate: nothing idles on.
        script.Append("status=0\n");
        script.Append(string.Join(' ', agent.Select(Quote))).Append(" --instance-id \"$instance_id\" || status=$?\n");
        script.Append(CultureInfo.InvariantCulture, $"unset {TokenVariable}\n");
        script.Append("echo \"slipway agent exited with status $status; shutting down\"\n");
        script.Append(ec2.ShutdownCommand).Append('\n');
        return script.ToString();
    }

    /// <summary>Console output or a log as safe to show: enrollment tokens and anything that looks like a key or secret are replaced.</summary>
    public static string Redact(string text)
    {
        text = TokenPattern().Replace(text, "[redacted enrollment token]");
        return SecretAssignment().Replace(text, m => m.Groups["name"].Value + "[redacted]");
    }

    [GeneratedRegex("[A-Za-z0-9]{20}\\.[A-Za-z0-9]{48}")]
    private static partial Regex TokenPattern();

    [GeneratedRegex("(?<name>(?i:[A-Z_]*(SECRET|ACCESS_KEY|PASSWORD|TOKEN)[A-Z_]*)\\s*[=:]\\s*)['\"]?[^\\s'\"]+['\"]?")]
    private static partial Regex SecretAssignment();

    /// <summary>One shell word, single-quoted.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\"'\"'", StringComparison.Ordinal) + "'";

    private static string Comment(string value) => new(value.Where(c => !char.IsControl(c)).ToArray());
}
