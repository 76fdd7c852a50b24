using System.Net;
using System.Net.Sockets;

namespace Slipway.TestSupport;

public static class LoopbackPort
{
    /// <summary>A port free on loopback right now (the system picks it; a test that needs a fixed port before starting uses it).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
