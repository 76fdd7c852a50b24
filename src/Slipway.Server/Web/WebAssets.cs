using System.Collections.Frozen;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Slipway.Server.Web;

/// <summary>
/// The web UI's scripts and styles, embedded in this assembly at build time (chart libraries from npm, the framework's
/// blazor.web.js, our own app.js/app.css). Each is gzipped once and served with an ETag and a versioned URL.
/// </summary>
public sealed class WebAssets
{
    private readonly FrozenDictionary<string, Asset> _assets;

    private sealed record Asset(byte[] Plain, byte[] Gzip, string ContentType, string Version);

    public WebAssets()
    {
        var assembly = typeof(WebAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("web/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var plain = new MemoryStream();
            stream.CopyTo(plain);
            var bytes = plain.ToArray();
            using var gzip = new MemoryStream();
            using (var z = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true))
                z.Write(bytes);
            var name = resource["web/".Length..];
            var type = Path.GetExtension(name) switch { ".js" => "text/javascript", ".css" => "text/css", _ => "application/octet-stream" };
            assets[name] = new Asset(bytes, gzip.ToArray(), type, Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]);
        }
        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The URL of an asset, with its content hash so that browsers may cache it for good.</summary>
    public string Url(string name) => _assets.TryGetValue(name, out var a) ? $"assets/{name}?v={a.Version}" : $"assets/{name}";

    public async Task ServeAsync(HttpContext http, string name)
    {
        if (!_assets.TryGetValue(name, out var asset))
        {
            http.Response.StatusCode = 404;
            return;
        }
        var etag = $"\"{asset.Version}\"";
        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = http.Request.Query.ContainsKey("v") ? "public, max-age=31536000, immutable" : "no-cache";
        http.Response.Headers.Vary = HeaderNames.AcceptEncoding;
        if (http.Request.Headers.IfNoneMatch == etag)
        {
            http.Response.StatusCode = 304;
            return;
        }
        http.Response.ContentType = asset.ContentType;
        var gzip = http.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
        if (gzip)
            http.Response.Headers.ContentEncoding = "gzip";
        var body = gzip ? asset.Gzip : asset.Plain;
        http.Response.ContentLength = body.Length;
        await http.Response.Body.WriteAsync(body, http.RequestAborted);
    }
}
