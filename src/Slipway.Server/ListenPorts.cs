using Microsoft.AspNetCore.Builder;

namespace Slipway.Server;

/// <summary>What a port serves: the API (RPC, metrics), the web UI, the file server, or anything (health).</summary>
public enum PortRole
{
    Any,
    Api,
    Web,
    Files,
}

/// <summary>
/// Which port is which, known once Kestrel has bound them (port 0 picks one). Requests are told apart by the
/// connection's local port, so that each port answers only its own paths whatever the client sends as Host.
/// </summary>
public sealed class ListenPorts
{
    private readonly TaskCompletionSource<(int Api, int Web, int Files)> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Bound(int api, int web, int files) => _bound.SetResult((api, web, files));

    /// <summary>The role of the port a connection came in on; waits for the ports to be known.</summary>
    public async ValueTask<PortRole> RoleOfAsync(int localPort)
    {
        var (api, web, files) = await _bound.Task;
        return localPort == api ? PortRole.Api : localPort == web ? PortRole.Web : localPort == files ? PortRole.Files : PortRole.Any;
    }
}

/// <summary>Endpoint metadata: the port an endpoint answers on. Endpoints without it belong to the web UI.</summary>
public sealed record ServesOn(PortRole Role)
{
    /// <summary>
    /// Answers a request for an endpoint of another port with a plain 404, as if the path did not exist there.
    /// Endpoints without <see cref="ServesOn"/> are the web UI's: Blazor maps several (its script, its hub) that
    /// would otherwise need tagging one by one.
    /// </summary>
    public static void Enforce(WebApplication app, ListenPorts ports) => app.Use(async (http, next) =>
    {
        var wanted = http.GetEndpoint()?.Metadata.GetMetadata<ServesOn>()?.Role ?? PortRole.Web;
        if (wanted != PortRole.Any && wanted != await ports.RoleOfAsync(http.Connection.LocalPort))
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        await next(http);
    });
}
