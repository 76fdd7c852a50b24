using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Slipway.Server.Blobs;

/// <summary>Where an S3 (or S3-compatible) blob store lives and how to reach it.</summary>
public sealed record S3Location(string Bucket, string Prefix, string? Endpoint, string? Region, string? AccessKey, string? SecretKey, bool PathStyle)
{
    /// <summary>Reads "s3://bucket/prefix".</summary>
    public static (string Bucket, string Prefix) ParseUri(string uri)
    {
        var rest = uri["s3://".Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        return (bucket, prefix.Length == 0 ? "" : prefix + "/");
    }
}

/// <summary>
/// Blobs in an S3 bucket (AWS or any S3-compatible server). Content streams through one 8 MB buffer: a file
/// that fits is held until the commit and then put in one request; a larger one goes up as a multipart upload
/// that is completed only at the commit, so S3 shows the object only when it is whole, and an abandoned
/// upload is aborted. Reads are ranged GETs behind a seekable stream, so HTTP Range requests work.
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    private const int PartSize = 8 * 1024 * 1024;
    private readonly AmazonS3Client _s3;
    private readonly S3Location _where;

    public S3BlobStore(S3Location where)
    {
        _where = where;
        var config = new AmazonS3Config { ForcePathStyle = where.PathStyle };
        if (where.Endpoint is { Length: > 0 } endpoint)
            config.ServiceURL = endpoint;
        if (where.Region is { Length: > 0 } region)
            config.AuthenticationRegion = region;
        _s3 = where.AccessKey is { Length: > 0 }
            ? new AmazonS3Client(new BasicAWSCredentials(where.AccessKey, where.SecretKey), config)
            : new AmazonS3Client(config);
    }

    private string Key(string path) => _where.Prefix + path;

    public async Task<StagedBlob> StageAsync(string path, Stream content, CancellationToken ct)
    {
        var buffer = new byte[PartSize];
        var filled = await FillAsync(content, buffer, ct);
        if (filled < PartSize)
            return new SmallBlob(this, path, buffer, filled);

        var upload = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _where.Bucket, Key = Key(path) }, ct);
        var staged = new LargeBlob(this, path, upload.UploadId);
        try
        {
            while (filled > 0)
            {
                using var part = new MemoryStream(buffer, 0, filled, writable: false);
                var response = await _s3.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = _where.Bucket, Key = Key(path), UploadId = upload.UploadId, PartNumber = staged.Parts.Count + 1,
                    InputStream = part, PartSize = filled, UseChunkEncoding = false,
                }, ct);
                staged.Parts.Add(new PartETag(staged.Parts.Count + 1, response.ETag));
                staged.Uploaded += filled;
                filled = await FillAsync(content, buffer, ct);
            }
            return staged;
        }
        catch
        {
            await staged.DisposeAsync();
            throw;
        }
    }

    private sealed class SmallBlob(S3BlobStore store, string path, byte[] bytes, int length) : StagedBlob
    {
        public override string Path => path;

        public override long Length => length;

        public override async Task CommitAsync(CancellationToken ct)
        {
            using var body = new MemoryStream(bytes, 0, length, writable: false);
            await store._s3.PutObjectAsync(new PutObjectRequest
            {
                BucketName = store._where.Bucket, Key = store.Key(path), InputStream = body, UseChunkEncoding = false, AutoCloseStream = false,
            }, ct);
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class LargeBlob(S3BlobStore store, string path, string uploadId) : StagedBlob
    {
        private bool _completed;

        public List<PartETag> Parts { get; } = [];

        /// <summary>Bytes uploaded so far.</summary>
        public long Uploaded { get; set; }

        public override string Path => path;

        public override long Length => Uploaded;

        public override async Task CommitAsync(CancellationToken ct)
        {
            await store._s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = store._where.Bucket, Key = store.Key(path), UploadId = uploadId, PartETags = Parts,
            }, ct);
            _completed = true;
        }

        public override async ValueTask DisposeAsync()
        {
            if (_completed)
                return;
            try
            {
                await store._s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
                {
                    BucketName = store._where.Bucket, Key = store.Key(path), UploadId = uploadId,
                });
            }
            catch (AmazonS3Exception)
            {
                // The bucket's lifecycle rules clean up uploads that could not be aborted.
            }
        }
    }

    public async Task<BlobInfo?> StatAsync(string path, CancellationToken ct)
    {
        try
        {
            var head = await _s3.GetObjectMetadataAsync(_where.Bucket, Key(path), ct);
            return new BlobInfo(head.ContentLength, head.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime()) : DateTimeOffset.UnixEpoch);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<Stream?> OpenReadAsync(string path, CancellationToken ct) =>
        await StatAsync(path, ct) is { } info ? new RangedReadStream(this, Key(path), info.Length) : null;

    public async Task<bool> DeleteAsync(string path, CancellationToken ct)
    {
        if (await StatAsync(path, ct) is null)
            return false;
        await _s3.DeleteObjectAsync(_where.Bucket, Key(path), ct);
        return true;
    }

    public void Dispose() => _s3.Dispose();

    private static async Task<int> FillAsync(Stream content, byte[] buffer, CancellationToken ct)
    {
        var filled = 0;
        int read;
        while (filled < buffer.Length && (read = await content.ReadAsync(buffer.AsMemory(filled), ct)) > 0)
            filled += read;
        return filled;
    }

    /// <summary>A read-only seekable view of an object: each seek starts a ranged GET from there to the end.</summary>
    private sealed class RangedReadStream(S3BlobStore store, string key, long length) : Stream
    {
        private GetObjectResponse? _response;
        private long _position;
        private long _responseStart = -1;
        private long _responseRead;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = Math.Clamp(value, 0, length);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (_position >= length || buffer.Length == 0)
                return 0;
            if (_response is null || _responseStart + _responseRead != _position)
            {
                _response?.Dispose();
                _response = await store._s3.GetObjectAsync(new GetObjectRequest
                {
                    BucketName = store._where.Bucket, Key = key, ByteRange = new ByteRange(_position, length - 1),
                }, ct);
                (_responseStart, _responseRead) = (_position, 0);
            }
            var read = await _response.ResponseStream.ReadAsync(buffer, ct);
            _responseRead += read;
            _position += read;
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _response?.Dispose();
            base.Dispose(disposing);
        }
    }
}
