using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Slipway.Server;

/// <summary>
/// The ports a data folder's server picked for options set to 0, kept in the data folder (<c>ports.json</c>). File
/// links stored in tasks and models name the files port, and clients keep the API address in clearml.conf, so a
/// later start with port 0 takes the same ports again, and only picks new ones when those are taken.
/// </summary>
public static class ChosenPorts
{
    private sealed record Remembered(int Api, int Web, int Files);

    public static string PathIn(ServerOptions options) => Path.Combine(options.DataDir, "ports.json");

    /// <summary>The ports to listen on: the configured ones, and for each set to 0 the one chosen before when it is free.</summary>
    public static (int Api, int Web, int Files) Resolve(ServerOptions options)
    {
        var remembered = Read(PathIn(options));
        var taken = new HashSet<int> { options.ApiPort, options.WebPort, options.FilesPort };
        int Pick(int configured, int? before) =>
            configured != 0 ? configured : before is > 0 and var port && taken.Add(port) && IsFree(options.Host, port) ? port : 0;
        return (Pick(options.ApiPort, remembered?.Api), Pick(options.WebPort, remembered?.Web), Pick(options.FilesPort, remembered?.Files));
    }

    /// <summary>Records the ports bound for the options set to 0; fixed ports need no memory.</summary>
    public static void Record(ServerOptions options, int api, int web, int files)
    {
        if (options.ApiPort != 0 && options.WebPort != 0 && options.FilesPort != 0)
            return;
        var path = PathIn(options);
        var before = Read(path);
        var chosen = new Remembered(options.ApiPort == 0 ? api : before?.Api ?? 0, options.WebPort == 0 ? web : before?.Web ?? 0,
            options.FilesPort == 0 ? files : before?.Files ?? 0);
        if (chosen == before)
            return;
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(chosen));
        File.Move(temporary, path, overwrite: true);
    }

    private static Remembered? Read(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<Remembered>(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null; // a damaged memory only costs the old ports
        }
    }

    private static bool IsFree(string host, int port)
    {
        var address = IPAddress.TryParse(host, out var parsed) ? parsed : host is "localhost" ? IPAddress.Loopback : IPAddress.Any;
        try
        {
            using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
