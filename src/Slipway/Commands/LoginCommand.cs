using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Slipway.Client;

namespace Slipway.Commands;

/// <summary>
/// `slipway login`: checks a key pair by signing in, then writes the <c>api</c> section of clearml.conf (server
/// URLs and keys), which the client commands, the ClearML SDK and the agent all read. An existing file is
/// left alone unless --force; then only its <c>api</c> section is replaced (the rest, e.g. <c>sdk</c>
/// settings, is kept) and the old file is saved next to it as .bak.
/// </summary>
public static class LoginCommand
{
    public static Command Create(CliConsole console)
    {
        var server = new Argument<string>("server") { Description = "The API server's URL, e.g. http://localhost:8008" };
        var accessKey = new Option<string?>("--access-key") { Description = "The access key (asked for when missing and stdin is a terminal)", HelpName = "key" };
        var secretKey = new Option<string?>("--secret-key") { Description = "The secret key (asked for, without echo, when missing and stdin is a terminal)", HelpName = "key" };
        var web = new Option<string?>("--web-server") { Description = "The web UI's URL (default: derived from the API server: port 8008 -> 8080, api. -> app.)", HelpName = "url" };
        var files = new Option<string?>("--files-server") { Description = "The file server's URL (default: derived from the web server: port 8081, app. -> files.)", HelpName = "url" };
        var conf = new Option<string?>("--conf") { Description = "The file to write (default: CLEARML_CONFIG_FILE, else ~/clearml.conf)", HelpName = "file" };
        var force = new Option<bool>("--force") { Description = "Update an existing file: replace its api section, keep the rest, save the old file as FILE.bak" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON (file, servers, user; never the secret key)" };
        var command = new Command("login", "Check a key pair against a server and write it with the server's URLs to clearml.conf")
        {
            server, accessKey, secretKey, web, files, conf, force, json,
        };
        command.SetAction((parse, ct) => ExitCodes.RunAsync(console, parse, async () =>
        {
            var api = ParseUrl(parse.GetValue(server)!, "server");
            var path = Path.GetFullPath(parse.GetValue(conf)
                ?? (Environment.GetEnvironmentVariable("CLEARML_CONFIG_FILE") is { Length: > 0 } named ? named
                    : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "clearml.conf")));
            var exists = File.Exists(path);
            if (exists && !parse.GetValue(force))
                throw new CliException(ExitCodes.Failed, $"{path} exists; pass --force to replace its api section (the rest is kept, the old file saved as .bak), or --conf to write elsewhere");
            var options = new ClientOptions
            {
                ApiServer = api,
                WebServer = parse.GetValue(web) is { } w ? ParseUrl(w, "--web-server") : null,
                FilesServer = parse.GetValue(files) is { } f ? ParseUrl(f, "--files-server") : null,
                AccessKey = parse.GetValue(accessKey) ?? Ask(console, "Access key", secret: false, "--access-key"),
                SecretKey = parse.GetValue(secretKey) ?? Ask(console, "Secret key", secret: true, "--secret-key"),
                MaxRetries = 2,
            };

            JsonObject user;
            using (var client = new SlipwayClient(options))
            {
                try
                {
                    user = (await client.CallAsync("users.get_current_user", [], ct))["user"] as JsonObject ?? [];
                }
                catch (SlipwayException e) when (e.ResultCode == 401)
                {
                    throw new CliException(ExitCodes.Configuration, $"the server at {Trim(api)} rejected the access key and secret key ({e.ServerMessage}); {path} was not changed");
                }
            }

            var section = ApiSection(options);
            var text = exists ? ReplaceApiSection(await File.ReadAllTextAsync(path, ct), section) : section;
            await WriteAsync(path, text, options, backup: exists, ct);

            var userName = Output.Text(user["name"]) ?? Output.Text(user["id"]) ?? "?";
            if (parse.GetValue(json))
            {
                Output.WriteJson(console.Out, new JsonObject
                {
                    ["conf"] = path,
                    ["api_server"] = Trim(options.ApiServer),
                    ["web_server"] = Trim(options.EffectiveWebServer),
                    ["files_server"] = Trim(options.EffectiveFilesServer),
                    ["user"] = new JsonObject { ["id"] = Output.Text(user["id"]), ["name"] = Output.Text(user["name"]) },
                    ["backup"] = exists ? path + ".bak" : null,
                });
            }
            else
            {
                console.Out.WriteLine($"Signed in to {Trim(options.ApiServer)} as {userName}; wrote {path}{(exists ? $" (the previous file is {path}.bak)" : "")}.");
            }
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static string Ask(CliConsole console, string label, bool secret, string option)
    {
        var value = console.Prompt?.Invoke(label, secret)
                    ?? throw CliException.Usage($"{option} is required (stdin is not a terminal to ask on)");
        return value.Trim() is { Length: > 0 } given ? given : throw CliException.Usage($"{option} must not be empty");
    }

    private static Uri ParseUrl(string value, string what) =>
        Uri.TryCreate(value.Trim().TrimEnd('/'), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw CliException.Usage($"{what} '{value}' is not an http(s) URL");

    private static string Trim(Uri uri) => uri.ToString().TrimEnd('/');

    /// <summary>The api section, values quoted (JSON strings are HOCON strings) so URLs and keys are taken literally.</summary>
    internal static string ApiSection(ClientOptions options)
    {
        static string Quote(string value) => JsonSerializer.Serialize(value);
        return $$"""
            # Written by slipway login.
            api {
                api_server: {{Quote(Trim(options.ApiServer))}}
                web_server: {{Quote(Trim(options.EffectiveWebServer))}}
                files_server: {{Quote(Trim(options.EffectiveFilesServer))}}
                credentials {
                    "access_key": {{Quote(options.AccessKey!)}}
                    "secret_key": {{Quote(options.SecretKey!)}}
                }
            }

            """;
    }

    /// <summary>
    /// Replaces the first top-level <c>api { ... }</c> block of a HOCON text with <paramref name="section"/>, or
    /// appends the section when there is none. Braces inside strings and comments are not counted.
    /// </summary>
    internal static string ReplaceApiSection(string text, string section)
    {
        var depth = 0;
        var start = -1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"')
            {
                i = SkipString(text, i);
            }
            else if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/' && (i == 0 || text[i - 1] != ':')))
            {
                while (i < text.Length && text[i] != '\n')
                    i++;
            }
            else if (c == '{')
            {
                if (depth == 0 && start < 0 && IsApiKeyBefore(text, i, out var keyStart))
                    start = keyStart;
                depth++;
            }
            else if (c == '}')
            {
                depth--;
                if (depth == 0 && start >= 0)
                {
                    var end = i + 1;
                    while (end < text.Length && text[end] is '\r' or '\n')
                        end++;
                    return text[..start] + section + text[end..];
                }
            }
        }
        return text.TrimEnd() + (text.Trim().Length > 0 ? "\n\n" : "") + section;
    }

    private static int SkipString(string text, int i)
    {
        if (string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0)
        {
            var close = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
            return close < 0 ? text.Length : close + 2;
        }
        for (i++; i < text.Length && text[i] != '"' && text[i] != '\n'; i++)
        {
            if (text[i] == '\\')
                i++;
        }
        return i;
    }

    /// <summary>True when the '{' at <paramref name="brace"/> opens `api {`, `api: {` or `api = {` at the start of a line.</summary>
    private static bool IsApiKeyBefore(string text, int brace, out int keyStart)
    {
        var i = brace - 1;
        while (i >= 0 && text[i] is ' ' or '\t')
            i--;
        if (i >= 0 && text[i] is ':' or '=')
            i--;
        while (i >= 0 && text[i] is ' ' or '\t')
            i--;
        var keyEnd = i + 1;
        while (i >= 0 && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '"'))
            i--;
        keyStart = i + 1;
        var lineStart = keyStart == 0 || text[..keyStart].TrimEnd(' ', '\t').EndsWith('\n') || text[..keyStart].TrimEnd(' ', '\t').Length == 0;
        return lineStart && text[keyStart..keyEnd].Trim('"') == "api";
    }

    /// <summary>
    /// Reads the written file back as the client does, so a file whose other keys override ours (or that no longer
    /// parses) is not put in place.
    /// </summary>
    private static void CheckReadsBack(string written, ClientOptions options, string path)
    {
        ClientOptions read;
        try
        {
            read = ClientOptions.FromFile(written);
        }
        catch (SlipwayException e)
        {
            throw new CliException(ExitCodes.Configuration, $"{path} cannot be updated, it does not parse ({e.InnerException?.Message ?? e.Message}); fix it or use --conf to write another file");
        }
        var expected = new (string Key, string Wanted, string? Read)[]
        {
            ("api.api_server", Trim(options.ApiServer), Trim(read.ApiServer)),
            ("api.web_server", Trim(options.EffectiveWebServer), Trim(read.EffectiveWebServer)),
            ("api.files_server", Trim(options.EffectiveFilesServer), Trim(read.EffectiveFilesServer)),
            ("api.credentials.access_key", options.AccessKey!, read.AccessKey),
            ("api.credentials.secret_key", options.SecretKey!, read.SecretKey),
        };
        foreach (var (key, wanted, value) in expected)
        {
            if (value != wanted)
                throw new CliException(ExitCodes.Failed, $"{path} sets {key} outside its api {{ }} section, which would override the new value; edit it by hand or use --conf to write another file");
        }
    }

    /// <summary>Writes atomically, readable by the owner only (the file holds the secret key).</summary>
    private static async Task WriteAsync(string path, string text, ClientOptions options, bool backup, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        await File.WriteAllTextAsync(temp, text, new UTF8Encoding(false), ct);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            CheckReadsBack(temp, options, path);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        if (backup)
            File.Copy(path, path + ".bak", overwrite: true);
        File.Move(temp, path, overwrite: true);
    }
}
