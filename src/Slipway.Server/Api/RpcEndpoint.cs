using System.Buffers;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Slipway.Server.Auth;
using Slipway.Server.Core;

namespace Slipway.Server.Api;

/// <summary>
/// The one catch-all route of the API: GET, POST and PUT alike, path <c>/[vX.Y/]service.action</c>, a JSON,
/// json-lines or empty body with the query string merged in, Bearer auth, and the envelope on every answer. The web UI's cookie is
/// not accepted here: a page on the same site (an uploaded file, another port) could otherwise act with it.
/// </summary>
public sealed partial class RpcEndpoint(RpcPipeline pipeline, ServerMetrics metrics, ILogger<RpcEndpoint> logger) : IDisposable
{
    public const long MaxBodyBytes = 64L * 1024 * 1024;
    private static readonly ActivitySource Source = new("Slipway.Server");
    private readonly BodyBudget _bodies = new(BodyBudget.DefaultCapacity);

    public void Dispose() => _bodies.Dispose();

    public async Task HandleAsync(HttpContext http)
    {
        var started = Stopwatch.GetTimestamp();
        var path = http.Request.Path.Value ?? "";
        var trx = http.Request.Headers["X-ClearML-Trx"].FirstOrDefault();
        var match = PathPattern().Match(path);
        var endpoint = match.Success ? match.Groups["endpoint"].Value : path.Trim('/');
        var version = match.Success && match.Groups["version"].Success ? match.Groups["version"].Value : null;
        using var activity = Source.StartActivity(endpoint, ActivityKind.Server);
        int code = 200, subcode = 0;
        string message = "OK";
        JsonNode? data = null;
        byte[]? rented = null;
        BodyBudget.Lease lease = default;
        try
        {
            if (!match.Success)
                throw ApiException.EndpointNotFound(endpoint);
            var route = pipeline.Find(endpoint);
            if (!http.Request.Headers.ContentEncoding.All(string.IsNullOrEmpty))
                throw new ApiException(415, 0, "Content-Encoding is not supported");
            var identity = route.Anonymous ? await http.CallerOrNullAsync(cookieAccepted: false) : await http.CallerAsync(cookieAccepted: false);
            // Held until the handler is done with the body (a body over the limit is refused before it waits). A body
            // of unknown length (chunked) takes a maximal body's share once it grows past the threshold: such bodies are rare.
            Func<ValueTask>? growing = null;
            if (http.Request.ContentLength is { } length)
            {
                if (length <= MaxBodyBytes)
                    lease = await _bodies.AcquireAsync(length, http.RequestAborted);
            }
            else
            {
                growing = async () => lease = await _bodies.AcquireAsync(MaxBodyBytes, http.RequestAborted);
            }
            (var call, rented) = await ReadCallAsync(http, endpoint, version, identity, growing);
            data = await pipeline.InvokeAsync(route, call);
        }
        catch (ApiException e)
        {
            (code, subcode, message) = (e.Code, e.Subcode, e.Message);
        }
        catch (BadHttpRequestException e)
        {
            (code, subcode, message) = (e.StatusCode, 0, e.Message);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            // Only reading the request gets here: the pipeline maps what handlers throw.
            Log.Unhandled(logger, e, endpoint);
            (code, subcode, message) = (500, 0, RpcPipeline.GeneralError);
        }
        finally
        {
            // The body's bytes (json-lines batches are read from them in place) are done with once the handler is.
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
            lease.Dispose();
        }
        metrics.RecordCall(endpoint, code, Stopwatch.GetElapsedTime(started));
        activity?.SetTag("slipway.result_code", code);
        activity?.SetTag("slipway.result_subcode", subcode);
        await Envelope.WriteAsync(http.Response, endpoint, version, trx, code, subcode, message, data);
    }

    private static async Task<(RpcCall, byte[]?)> ReadCallAsync(HttpContext http, string endpoint, string? version, Identity? identity,
        Func<ValueTask>? growing)
    {
        var request = http.Request;
        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
            sizeFeature.MaxRequestBodySize = MaxBodyBytes;
        if (request.ContentLength > MaxBodyBytes)
            throw new ApiException(413, 0, $"Request body is larger than {MaxBodyBytes} bytes");

        var (rented, length) = await ReadBodyAsync(request, growing, http.RequestAborted);
        var bytes = rented is null ? ReadOnlyMemory<byte>.Empty : rented.AsMemory(0, length);
        var worker = request.Headers["X-ClearML-Worker"].FirstOrDefault() ?? request.Headers["X-Trains-Worker"].FirstOrDefault();
        var isLines = request.ContentType?.StartsWith("application/json-lines", StringComparison.OrdinalIgnoreCase) == true;
        JsonObject body;
        List<ReadOnlyMemory<byte>>? lines = null;
        if (isLines)
        {
            body = [];
            lines = RequestBody.SplitLines(bytes);
        }
        else
        {
            body = RequestBody.ParseObject(bytes.Span);
        }
        if (request.QueryString.HasValue)
            RequestBody.MergeQuery(body, request.Query);
        return (new RpcCall(endpoint, version, body, identity, worker, http.RequestAborted)
        {
            Lines = lines,
            AuthorizationHeader = request.Headers.Authorization.ToString(),
            RemoteIp = http.Connection.RemoteIpAddress?.ToString(),
        }, rented);
    }

    /// <summary>Reads the whole body into a pooled buffer; returns it (null when empty) and the length used.</summary>
    private static async Task<(byte[]?, int)> ReadBodyAsync(HttpRequest request, Func<ValueTask>? pastThreshold, CancellationToken ct)
    {
        if (request.ContentLength == 0)
            return (null, 0);
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(request.ContentLength ?? 4096, 256, MaxBodyBytes));
        var length = 0;
        try
        {
            var reader = request.BodyReader;
            while (true)
            {
                var result = await reader.ReadAsync(ct);
                foreach (var segment in result.Buffer)
                {
                    if (length + segment.Length > MaxBodyBytes)
                        throw new ApiException(413, 0, $"Request body is larger than {MaxBodyBytes} bytes");
                    if (pastThreshold is not null && length + segment.Length >= BodyBudget.Threshold)
                    {
                        await pastThreshold();
                        pastThreshold = null;
                    }
                    if (length + segment.Length > buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(MaxBodyBytes, Math.Max(buffer.Length * 2L, length + segment.Length)));
                        buffer.AsSpan(0, length).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                    segment.Span.CopyTo(buffer.AsSpan(length));
                    length += segment.Length;
                }
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
            return (buffer, length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    [GeneratedRegex(@"^/?(?:v(?<version>\d+\.\d+)/)?(?<endpoint>[A-Za-z_]\w*\.[A-Za-z_]\w*)/?$")]
    private static partial Regex PathPattern();

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error reading a call to {Endpoint}")]
        public static partial void Unhandled(ILogger logger, Exception e, string endpoint);
    }
}
