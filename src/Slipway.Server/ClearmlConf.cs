using System.Text.RegularExpressions;

namespace Slipway.Server;

/// <summary>
/// Writes DIR/clearml.conf, so that CLEARML_CONFIG_FILE=DIR/clearml.conf points the official SDK at this
/// server. The secret key is known only when the admin's key pair is made; later starts keep the keys already
/// in the file and refresh the URLs (ports may be picked anew). The file is the owner's alone (0600): it is
/// the only place the admin's secret key is ever written.
/// </summary>
public static partial class ClearmlConf
{
    public static void Write(string path, Uri api, Uri web, Uri files, AdminCredentials? credentials)
    {
        credentials ??= ReadCredentials(path);
        var text = $$"""
            # Written by slipway server. Point the ClearML SDK or agent here with CLEARML_CONFIG_FILE={{path}}
            api {
                api_server: {{Trim(api)}}
                web_server: {{Trim(web)}}
                files_server: {{Trim(files)}}
                credentials {
                    "access_key": "{{credentials?.AccessKey ?? ""}}"
                    "secret_key": "{{credentials?.SecretKey ?? ""}}"
                }
            }

            """;
        var temp = path + ".tmp";
        File.Delete(temp);
        // Created 0600, not made so afterwards, so the secret is never readable by others, not even for a moment.
        using (var writer = new StreamWriter(DataFolder.CreateFile(temp)))
            writer.Write(text);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The key pair in an existing file; null when there is no file or its keys are empty.</summary>
    public static AdminCredentials? ReadCredentials(string path)
    {
        if (!File.Exists(path))
            return null;
        var existing = File.ReadAllText(path);
        var access = AccessKey().Match(existing);
        var secret = SecretKey().Match(existing);
        return access.Success && secret.Success ? new AdminCredentials(access.Groups[1].Value, secret.Groups[1].Value) : null;
    }

    private static string Trim(Uri uri) => uri.ToString().TrimEnd('/');

    [GeneratedRegex("\"access_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex AccessKey();

    [GeneratedRegex("\"secret_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex SecretKey();
}
