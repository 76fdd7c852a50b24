using System.Net;
using System.Net.Http.Headers;

namespace Slipway.Client.Datasets;

/// <summary>
/// A read-only, seekable view of a remote file over HTTP Range requests, so a zip chunk is read straight from the
/// network without a temporary copy: the tail (where the zip's directory lives) is fetched once and kept, and
/// everything before it streams from one open-ended request that later requests pick up where a seek leaves it.
/// Reading entries in file order therefore fetches the file once, in one pass.
/// </summary>
internal sealed class RangeReadStream : Stream
{
    /// <summary>How much of the end of the file the first request fetches (and keeps).</summary>
    public const int TailSize = 1 << 20;

    // A forward seek shorter than this reads through the gap instead of starting a new request.
    private const int SkipThrough = 1 << 20;

    // The body is read in large blocks into a window that also keeps the last bytes behind the position, so a
    // short step back (the zip reader reads an entry's local header, then goes back to its start) is answered
    // from memory rather than by a new request, and small reads (a deflate stream asks for 8 KiB at a time)
    // cost no network call each.
    private const int WindowSize = 1 << 20;
    private const int KeepBehind = 64 * 1024;

    // A read of at least this much (a stored entry's bytes, not the zip reader's headers or a deflate stream's 8 KiB
    // reads) skips the window: the bytes are copied once, not twice. The window then keeps the last few KiB.
    private const int DirectRead = 32 * 1024;
    private const int DirectKeep = 4 * 1024;

    private readonly FilesClient _files;
    private readonly Uri _url;
    private readonly IProgress<long>? _progress;
    private readonly int _maxRetries;
    private readonly byte[] _tail;
    private readonly long _tailStart;
    private HttpResponseMessage? _response;
    private Stream? _body;
    private long _position;
    private readonly byte[] _window = new byte[WindowSize];
    private long _windowStart;
    private int _windowCount;

    private RangeReadStream(FilesClient files, Uri url, IProgress<long>? progress, int maxRetries, long length, byte[] tail)
    {
        _files = files;
        _url = url;
        _progress = progress;
        _maxRetries = maxRetries;
        Length = length;
        _tail = tail;
        _tailStart = length - tail.Length;
    }

    /// <summary>
    /// Opens a remote file for random access. A local <c>file://</c> URL opens the file itself; a server that ignores
    /// Range gets its whole answer spooled to a temporary file that is deleted on close.
    /// </summary>
    /// <exception cref="SlipwayException">The file does not exist or cannot be read.</exception>
    public static async Task<Stream> OpenAsync(FilesClient files, Uri url, IProgress<long>? progress, int maxRetries, CancellationToken ct)
    {
        if (url.IsFile)
        {
            try
            {
                return new FileStream(url.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            }
            catch (IOException e)
            {
                throw new SlipwayException($"cannot read {url}: {e.Message}", e);
            }
        }
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await OpenHttpAsync(files, url, progress, maxRetries, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException && attempt < maxRetries)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 << Math.Min(attempt, 6)), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                throw new SlipwayException($"download of {url} failed: {e.Message}", e);
            }
        }
    }

    private static async Task<Stream> OpenHttpAsync(FilesClient files, Uri url, IProgress<long>? progress, int maxRetries, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Range = new RangeHeaderValue(null, TailSize);
        using var response = await files.SendAsync(request, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            return new MemoryStream([], writable: false); // an empty file
        CheckStatus(response, url);
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            if (response.Content.Headers.ContentRange is not { Length: { } length, From: { } from })
                throw new SlipwayException($"{url}: the server answered a range request without the file's length");
            var tail = new byte[length - from];
            await using (var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false))
                await body.ReadExactlyAsync(tail, ct).ConfigureAwait(false);
            progress?.Report(tail.Length);
            return new RangeReadStream(files, url, progress, maxRetries, length, tail);
        }
        // The server sent the whole file: keep it in a temporary file, read from there.
        var spool = new FileStream(Path.Combine(Path.GetTempPath(), "slipway-chunk-" + Guid.NewGuid().ToString("N")), FileMode.CreateNew, FileAccess.ReadWrite,
            FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = await body.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                await spool.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                progress?.Report(read);
            }
            spool.Position = 0;
            return spool;
        }
        catch
        {
            await spool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void CheckStatus(HttpResponseMessage response, Uri url)
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new SlipwayException($"{url} does not exist on the file server");
        if (!response.IsSuccessStatusCode)
            throw new SlipwayException($"download of {url} failed: HTTP {(int)response.StatusCode}");
    }

    /// <summary>Another reader of the same file, sharing the fetched tail, with its own position and request.</summary>
    public RangeReadStream Fork() => new(_files, _url, _progress, _maxRetries, Length, _tail);

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length { get; }

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => Length + offset,
    };

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            var read = ReadAsync(rented.AsMemory(0, buffer.Length), CancellationToken.None).AsTask().GetAwaiter().GetResult();
            rented.AsSpan(0, read).CopyTo(buffer);
            return read;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= Length || buffer.Length == 0)
            return 0;
        if (_position >= _tailStart)
        {
            var n = (int)Math.Min(buffer.Length, Length - _position);
            _tail.AsMemory((int)(_position - _tailStart), n).CopyTo(buffer);
            _position += n;
            return n;
        }
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (_body is not null && _position == _windowStart + _windowCount && buffer.Length >= DirectRead)
                    return await ReadDirectAsync(buffer[..(int)Math.Min(buffer.Length, _tailStart - _position)], cancellationToken).ConfigureAwait(false);
                await WindowAtPositionAsync(cancellationToken).ConfigureAwait(false);
                var offset = (int)(_position - _windowStart);
                var n = (int)Math.Min(Math.Min(buffer.Length, _tailStart - _position), _windowCount - offset);
                _window.AsMemory(offset, n).CopyTo(buffer);
                _position += n;
                return n;
            }
            catch (Exception e) when (e is HttpRequestException or IOException && attempt < _maxRetries && !cancellationToken.IsCancellationRequested)
            {
                CloseBody();
                await Task.Delay(TimeSpan.FromMilliseconds(100 << Math.Min(attempt, 6)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Makes the window hold the byte at <see cref="_position"/>: it may already (a step back into the kept bytes,
    /// or read-ahead), be filled further (a short skip forward), or be restarted by a new request there.
    /// </summary>
    private async ValueTask WindowAtPositionAsync(CancellationToken ct)
    {
        if (_body is not null && _position >= _windowStart && _position - (_windowStart + _windowCount) <= SkipThrough)
        {
            while (_position >= _windowStart + _windowCount)
                await FillAsync(ct).ConfigureAwait(false);
            return;
        }
        CloseBody();
        var request = new HttpRequestMessage(HttpMethod.Get, _url);
        request.Headers.Range = new RangeHeaderValue(_position, _tailStart - 1);
        HttpResponseMessage response;
        try
        {
            response = await _files.SendAsync(request, ct).ConfigureAwait(false);
        }
        finally
        {
            request.Dispose();
        }
        if (response.StatusCode != HttpStatusCode.PartialContent || response.Content.Headers.ContentRange?.From != _position)
        {
            response.Dispose();
            CheckStatus(response, _url);
            throw new SlipwayException($"{_url} changed or stopped answering range requests while it was read");
        }
        _response = response;
        _body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        _windowStart = _position;
        _windowCount = 0;
        await FillAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A large read at the end of the window goes from the connection straight into the caller's buffer; the window
    /// then keeps only its last bytes, for a step back.
    /// </summary>
    private async ValueTask<int> ReadDirectAsync(Memory<byte> buffer, CancellationToken ct)
    {
        var read = await _body!.ReadAsync(buffer, ct).ConfigureAwait(false);
        if (read == 0)
            throw new IOException($"the connection closed early while reading {_url}");
        _progress?.Report(read);
        var keep = Math.Min(read, DirectKeep);
        buffer.Span.Slice(read - keep, keep).CopyTo(_window);
        _windowStart = _position + read - keep;
        _windowCount = keep;
        _position += read;
        return read;
    }

    /// <summary>Reads more of the body into the window; a full window first drops all but its last <see cref="KeepBehind"/> bytes.</summary>
    private async ValueTask FillAsync(CancellationToken ct)
    {
        if (_windowCount == _window.Length)
        {
            _window.AsSpan(_windowCount - KeepBehind, KeepBehind).CopyTo(_window);
            _windowStart += _windowCount - KeepBehind;
            _windowCount = KeepBehind;
        }
        var read = await _body!.ReadAsync(_window.AsMemory(_windowCount), ct).ConfigureAwait(false);
        if (read == 0)
            throw new IOException($"the connection closed early while reading {_url}");
        _windowCount += read;
        _progress?.Report(read);
    }

    private void CloseBody()
    {
        _windowCount = 0;
        _body?.Dispose();
        _response?.Dispose();
        _body = null;
        _response = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            CloseBody();
        base.Dispose(disposing);
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
