using System.Net;

namespace Slipway.Agent.Tests.Infrastructure;

/// <summary>
/// The two IMDSv2 calls the spot watch makes, served on loopback over real HTTP: a session token for a PUT with a TTL header,
/// and the spot instance-action document for a GET that carries the token (404 until <see cref="Notice"/> is set, 401 without
/// a valid token, as EC2 answers).
/// </summary>
internal sealed class ImdsStandIn : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private readonly HashSet<string> _tokens = [];

    public ImdsStandIn()
    {
        var port = LoopbackPort.Free();
        Address = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Address.ToString());
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public Uri Address { get; }

    /// <summary>The instance-action document once EC2 "decides" to reclaim the instance; null: no notice (404).</summary>
    public volatile string? Notice;

    public int NoticeReads;

    public int RefusedReads;

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            var request = context.Request;
            var response = context.Response;
            var body = "";
            if (request.HttpMethod == "PUT" && request.Url!.AbsolutePath == "/latest/api/token" && request.Headers["X-aws-ec2-metadata-token-ttl-seconds"] is { Length: > 0 })
            {
                body = "token-" + Guid.NewGuid().ToString("N");
                lock (_tokens)
                    _tokens.Add(body);
            }
            else if (request.HttpMethod == "GET" && request.Url!.AbsolutePath == "/latest/meta-data/spot/instance-action")
            {
                bool known;
                lock (_tokens)
                    known = request.Headers["X-aws-ec2-metadata-token"] is { } token && _tokens.Contains(token);
                if (!known)
                {
                    Interlocked.Increment(ref RefusedReads);
                    response.StatusCode = 401;
                }
                else
                {
                    Interlocked.Increment(ref NoticeReads);
                    if (Notice is { } notice)
                        body = notice;
                    else
                        response.StatusCode = 404;
                }
            }
            else
            {
                response.StatusCode = 400;
            }
            var bytes = System.Text.Encoding.UTF8.GetBytes(body);
            response.ContentLength64 = bytes.Length;
            await response.OutputStream.WriteAsync(bytes);
            response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
    }
}
