using System.Net;
using System.Net.Http.Headers;

namespace Slipway.Client;

/// <summary>
/// The file server: uploads (multipart, the form field name is the destination path) and downloads, with
/// progress reported in bytes. The token is sent only to the configured file server's host.
/// </summary>
public sealed class FilesClient
{
    private const int BufferSize = 1 << 20;
    private readonly SlipwayClient _client;
    private readonly HttpClient _http;

    internal FilesClient(SlipwayClient client, HttpClient http)
    {
        _client = client;
        _http = http;
    }

    /// <summary>The URL a path on the file server has (segments escaped), under <paramref name="baseUrl"/> or the configured file server.</summary>
    public Uri UrlFor(string remotePath, Uri? baseUrl = null)
    {
        var root = (baseUrl ?? _client.Options.EffectiveFilesServer).ToString().TrimEnd('/');
        return new Uri(root + "/" + string.Join('/', remotePath.Trim('/').Split('/').Select(Uri.EscapeDataString)));
    }

    /// <summary>Uploads a local file to <paramref name="remotePath"/>; retried on transient failures. Returns its URL.</summary>
    public async Task<Uri> UploadFileAsync(string localFile, string remotePath, Uri? baseUrl = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using var stream = new FileStream(localFile, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
            try
            {
                return await UploadAsync(stream, remotePath, baseUrl, progress, cancellationToken).ConfigureAwait(false);
            }
            catch (SlipwayException e) when (e.InnerException is HttpRequestException && attempt < _client.Options.MaxRetries)
            {
                await Task.Delay(_client.RetryDelay(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Uploads bytes from a stream to <paramref name="remotePath"/> and returns its URL.</summary>
    public async Task<Uri> UploadAsync(Stream content, string remotePath, Uri? baseUrl = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var root = baseUrl ?? _client.Options.EffectiveFilesServer;
        var target = new Uri(root.ToString().TrimEnd('/') + "/");
        using var form = new MultipartFormDataContent();
        var part = new StreamContent(new ProgressStream(content, progress), BufferSize);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        // The field name is the destination path, sent as written (no RFC 5987 encoding).
        part.Headers.TryAddWithoutValidation("Content-Disposition", $"form-data; name=\"{remotePath.TrimStart('/')}\"; filename=\"{Path.GetFileName(remotePath)}\"");
        form.Add(part);
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = form };
        await AuthorizeAsync(request, target, cancellationToken).ConfigureAwait(false);
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new SlipwayException($"upload of {remotePath} to {root} failed: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
        }
        catch (HttpRequestException e)
        {
            throw new SlipwayException($"upload of {remotePath} to {root} failed: {e.Message}", e);
        }
        return UrlFor(remotePath, root);
    }

    /// <summary>
    /// Downloads a URL (http(s) or <c>file://</c>) to a local file, written under a temporary name and renamed
    /// when complete; retried on transient failures. Returns the number of bytes.
    /// </summary>
    public async Task<long> DownloadAsync(Uri url, string destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
        var temp = destination + ".part-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            long length;
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await using var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous);
                    await using var input = await OpenReadAsync(url, cancellationToken).ConfigureAwait(false);
                    await new ProgressStream(input, progress).CopyToAsync(output, BufferSize, cancellationToken).ConfigureAwait(false);
                    length = output.Length;
                    break;
                }
                catch (SlipwayException e) when (e.InnerException is HttpRequestException or IOException && attempt < _client.Options.MaxRetries)
                {
                    await Task.Delay(_client.RetryDelay(attempt), cancellationToken).ConfigureAwait(false);
                }
            }
            File.Move(temp, destination, overwrite: true);
            return length;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Opens a URL for reading (http(s) with the token for the file server's host, or <c>file://</c>).</summary>
    public async Task<Stream> OpenReadAsync(Uri url, CancellationToken cancellationToken = default)
    {
        if (url.IsFile)
            return File.OpenRead(url.LocalPath);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        await AuthorizeAsync(request, url, cancellationToken).ConfigureAwait(false);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var status = response.StatusCode;
                response.Dispose();
                throw new SlipwayException(status == HttpStatusCode.NotFound ? $"{url} does not exist on the file server" : $"download of {url} failed: HTTP {(int)status}");
            }
            return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new SlipwayException($"download of {url} failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// The size in bytes of the file at a URL (http(s) by a HEAD request, or <c>file://</c>); null when the server
    /// does not say or has no such file. Used to show a download's progress as a share of the whole.
    /// </summary>
    /// <exception cref="SlipwayException">The server could not be reached.</exception>
    public async Task<long?> GetLengthAsync(Uri url, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.IsFile)
            return File.Exists(url.LocalPath) ? new FileInfo(url.LocalPath).Length : null;
        using var request = new HttpRequestMessage(HttpMethod.Head, url);
        await AuthorizeAsync(request, url, cancellationToken).ConfigureAwait(false);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? response.Content.Headers.ContentLength : null;
        }
        catch (HttpRequestException e)
        {
            throw new SlipwayException($"cannot reach {url.GetLeftPart(UriPartial.Authority)}: {e.Message}", e);
        }
    }

    /// <summary>Deletes a file on the file server; a missing file is not an error.</summary>
    public async Task DeleteAsync(Uri url, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, url);
        await AuthorizeAsync(request, url, cancellationToken).ConfigureAwait(false);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.NotFound)
            throw new SlipwayException($"delete of {url} failed: HTTP {(int)response.StatusCode}");
    }

    /// <summary>Sends a request (with the token where it belongs) and returns the answer at its headers, unchecked.</summary>
    internal async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        await AuthorizeAsync(request, request.RequestUri!, ct).ConfigureAwait(false);
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
    }

    private async Task AuthorizeAsync(HttpRequestMessage request, Uri target, CancellationToken ct)
    {
        var files = _client.Options.EffectiveFilesServer;
        var api = _client.Options.ApiServer;
        if (string.Equals(target.Authority, files.Authority, StringComparison.OrdinalIgnoreCase)
            || string.Equals(target.Authority, api.Authority, StringComparison.OrdinalIgnoreCase))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _client.GetTokenAsync(ct).ConfigureAwait(false));
    }

    /// <summary>Reports bytes read through it.</summary>
    private sealed class ProgressStream(Stream inner, IProgress<long>? progress) : Stream
    {
        private long _total;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => _total; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int read)
        {
            _total += read;
            if (read > 0)
                progress?.Report(read);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
