using System.Text.RegularExpressions;

namespace Slipway.Server;

/// <summary>
/// Writes DIR/clearml.conf, so that CLEARML_CONFIG_FILE=DIR/clearml.conf points the official SDK at this
/// server. The secret key is known only on first start; later starts keep the keys already in the file and
/// refresh the URLs (ports may be picked anew).
/// </summary>
public static partial class ClearmlConf
{
    public static void Write(string path, Uri api, Uri web, Uri files, AdminCredentials? credentials)
    {
        if (credentials is null && File.Exists(path))
        {
            var existing = File.ReadAllText(path);
            var access = AccessKey().Match(existing);
            var secret = SecretKey().Match(existing);
            if (access.Success && secret.Success)
                credentials = new AdminCredentials(access.Groups[1].Value, secret.Groups[1].Value);
        }
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
        File.WriteAllText(temp, text);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, path, overwrite: true);
    }

    private static string Trim(Uri uri) => uri.ToString().TrimEnd('/');

    [GeneratedRegex("\"access_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex AccessKey();

    [GeneratedRegex("\"secret_key\"\\s*:\\s*\"([^\"]+)\"")]
    private static partial Regex SecretKey();
}
