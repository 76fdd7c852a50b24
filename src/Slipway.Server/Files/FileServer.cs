using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Slipway.Server.Api;
using Slipway.Server.Auth;
using Slipway.Server.Blobs;
using Slipway.Server.Core;
using Slipway.Server.Storage;

namespace Slipway.Server.Files;

/// <summary>
/// The file server the SDK uploads to (spec §2d): multipart POST to / where each part's field name is the
/// destination path, GET (with Range) / HEAD / DELETE by path, POST /delete_many, GET / → "OK". The same
/// token as the API is required; the web UI's cookie is accepted for reads only, so that its links download. Field names are
/// stored literally; request paths are decoded exactly once.
/// Files are users' uploads served from a site that shares the UI's cookie, so none may run there as a page: every answer
/// carries <c>nosniff</c> and a sandboxing CSP (no scripts, an opaque origin), and anything but a plain image, sound, video or
/// text is sent as an attachment.
/// </summary>
public sealed partial class FileServer(IBlobStore blobs, FilePermissions access, ServerMetrics metrics, ILogger<FileServer> logger)
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();
    public const string ContentSecurityPolicy = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

    /// <param name="prefix">The path the file server is mounted under on this port ("" on its own port).</param>
    public async Task HandleAsync(HttpContext http, string prefix = "")
    {
        var request = http.Request;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        var rawPath = RawPath(http)[prefix.Length..];
        if (rawPath.Length == 0)
            rawPath = "/";
        if (rawPath == "/" && HttpMethods.IsGet(request.Method))
        {
            await Results.Text("OK").ExecuteAsync(http);
            return;
        }
        try
        {
            var reading = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
            // Downloads only: a link in a page of the UI opens a file with the session cookie; nothing a cookie alone sends may change files.
            var caller = await http.CallerAsync(cookieAccepted: reading);
            IResult result = (request.Method, rawPath) switch
            {
                ("POST", "/") => await UploadAsync(http, caller),
                ("POST", "/delete_many") => await DeleteManyAsync(http, caller),
                ("GET" or "HEAD", _) => await DownloadAsync(http, caller, DecodePath(rawPath)),
                ("DELETE", _) => await DeleteAsync(caller, DecodePath(rawPath), http.RequestAborted),
                _ => Results.Json(new { error = $"{request.Method} is not supported here" }, statusCode: 405),
            };
            await result.ExecuteAsync(http);
        }
        catch (ApiException e)
        {
            await Results.Json(new { error = e.Message }, statusCode: e.Code).ExecuteAsync(http);
        }
        catch (Exception e) when (DiskFull.Is(e))
        {
            // Staged parts are deleted as the upload unwinds, so a full disk leaves no partial file behind.
            Log.DiskFull(logger, e);
            await Results.Json(new { error = DiskFull.Reason }, statusCode: 507).ExecuteAsync(http);
        }
        catch (Exception e) when (e is BadHttpRequestException or InvalidDataException or IOException && !http.RequestAborted.IsCancellationRequested)
        {
            await Results.Json(new { error = $"bad upload: {e.Message}" }, statusCode: 400).ExecuteAsync(http);
        }
    }

    /// <summary>Streams every part to staging first; only when all parts arrived with acceptable paths are they published.</summary>
    private async Task<IResult> UploadAsync(HttpContext http, Identity caller)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = null;
        var contentType = http.Request.ContentType ?? "";
        var boundary = MediaTypeHeaderValue.TryParse(contentType, out var media) && media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            ? HeaderUtilities.RemoveQuotes(media.Boundary).Value
            : null;
        if (string.IsNullOrEmpty(boundary))
            throw new ApiException(400, 0, "expected multipart/form-data with a boundary");
        var reader = new MultipartReader(boundary, http.Request.Body) { HeadersLengthLimit = 64 * 1024 };
        var staged = new List<StagedBlob>();
        try
        {
            while (await reader.ReadNextSectionAsync(http.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                    throw new ApiException(400, 0, "each part needs a form-data Content-Disposition");
                // The field name is the destination path, taken literally: it is never percent-decoded.
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value;
                var path = BlobPath.Check(name, out var problem) ?? throw new ApiException(400, 0, $"refused path '{name}': {problem}");
                await access.RequireAsync(caller, path, write: true, exists: await blobs.StatAsync(path, http.RequestAborted) is not null, http.RequestAborted);
                staged.Add(await blobs.StageAsync(path, section.Body, http.RequestAborted));
            }
            if (staged.Count == 0)
                throw new ApiException(400, 0, "the upload has no parts");
            foreach (var blob in staged)
            {
                await blob.CommitAsync(http.RequestAborted);
                await access.RecordUploadAsync(caller, blob.Path);
            }
            var stored = staged.Sum(b => b.Length);
            Log.Uploaded(logger, staged.Count, stored);
            metrics.RecordFileBytesStored(stored);
            return Results.Json(staged.Select(b => b.Path).ToArray());
        }
        finally
        {
            foreach (var blob in staged)
                await blob.DisposeAsync();
        }
    }

    private async Task<IResult> DownloadAsync(HttpContext http, Identity caller, string path)
    {
        var info = await blobs.StatAsync(path, http.RequestAborted);
        if (info is null)
            return NotFound(path);
        await access.RequireAsync(caller, path, write: false, exists: true, http.RequestAborted);
        if (!ContentTypes.TryGetContentType(path, out var type))
            type = "application/octet-stream";
        var downloadName = http.Request.Query.ContainsKey("download") || !ShownInline(type) ? path.Split('/')[^1] : null;
        if (!HttpMethods.IsHead(http.Request.Method))
        {
            http.Response.OnCompleted(() =>
            {
                metrics.RecordFileBytesServed(http.Response.ContentLength ?? 0);
                return Task.CompletedTask;
            });
        }
        if (blobs.LocalPath(path) is { } local)
        {
            // A file on this disk is sent as a file (ranges and conditions handled by the result), read straight into
            // the response's buffers.
            http.Features.Set<IHttpResponseBodyFeature>(new PipeSendFileFeature(http.Features.GetRequiredFeature<IHttpResponseBodyFeature>()));
            return new LocalFileResult(Results.File(local, type, downloadName, info.LastModified, enableRangeProcessing: true), path);
        }
        var stream = await blobs.OpenReadAsync(path, http.RequestAborted);
        if (stream is null)
            return NotFound(path);
        return Results.File(stream, type, downloadName, info.LastModified, enableRangeProcessing: true);
    }

    /// <summary>Types a browser shows without running anything: raster images, sound, video and plain text (never HTML, SVG or XML).</summary>
    public static bool ShownInline(string type) =>
        type is "image/png" or "image/jpeg" or "image/gif" or "image/webp" or "image/bmp" or "text/plain"
        || type.StartsWith("audio/", StringComparison.Ordinal) || type.StartsWith("video/", StringComparison.Ordinal);

    private static IResult NotFound(string path) => Results.Json(new { error = $"no file at {path}" }, statusCode: 404);

    /// <summary>A local file's result; a file deleted between the stat and the send is answered 404, like one never there.</summary>
    private sealed class LocalFileResult(IResult file, string path) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            try
            {
                await file.ExecuteAsync(http);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && !http.Response.HasStarted)
            {
                await NotFound(path).ExecuteAsync(http);
            }
        }
    }

    private async Task<IResult> DeleteAsync(Identity caller, string path, CancellationToken ct)
    {
        if (await blobs.StatAsync(path, ct) is null)
            return NotFound(path);
        await access.RequireAsync(caller, path, write: true, exists: true, ct);
        if (!await blobs.DeleteAsync(path, ct))
            return NotFound(path);
        await access.ForgetAsync(path);
        return Results.Json(path);
    }

    private async Task<IResult> DeleteManyAsync(HttpContext http, Identity caller)
    {
        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, 0, $"invalid JSON body: {e.Message}");
        }
        var files = RpcCall.AsStringList(body?["files"], "files") ?? throw new ApiException(400, 0, "expected {files: [...]}");
        var deleted = new JsonObject();
        var errors = new JsonObject();
        foreach (var file in files)
        {
            var path = BlobPath.Check(file, out var problem);
            if (path is null)
            {
                errors[file] = problem;
                continue;
            }
            try
            {
                if (await blobs.StatAsync(path, http.RequestAborted) is null)
                    throw new ApiException(404, 0, "not found");
                await access.RequireAsync(caller, path, write: true, exists: true, http.RequestAborted);
                if (!await blobs.DeleteAsync(path, http.RequestAborted))
                    throw new ApiException(404, 0, "not found");
                await access.ForgetAsync(path);
                deleted[file] = true;
            }
            catch (ApiException e)
            {
                errors[file] = e.Code == 404 ? "not found" : e.Message;
            }
        }
        return Results.Json(new JsonObject { ["deleted"] = deleted, ["errors"] = errors });
    }

    /// <summary>The request path as sent (before any decoding), without the query string.</summary>
    private static string RawPath(HttpContext http)
    {
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? http.Request.Path.Value ?? "/";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? raw : raw[..query];
    }

    /// <summary>Decodes the path exactly once; an encoded separator could only be an attempt to hide one, so it is refused.</summary>
    private static string DecodePath(string rawPath)
    {
        if (rawPath.Contains("%2f", StringComparison.OrdinalIgnoreCase) || rawPath.Contains("%5c", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(400, 0, "encoded path separators are not allowed");
        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(rawPath);
        }
        catch (UriFormatException)
        {
            throw new ApiException(400, 0, "the path is not validly encoded");
        }
        return BlobPath.Check(decoded, out var problem) ?? throw new ApiException(400, 0, $"refused path: {problem}");
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Debug, Message = "Stored {Count} file(s), {Bytes} bytes")]
        public static partial void Uploaded(ILogger logger, int count, long bytes);

        [LoggerMessage(Level = LogLevel.Error, Message = "An upload failed: no space left for the blobs")]
        public static partial void DiskFull(ILogger logger, Exception e);
    }
}
