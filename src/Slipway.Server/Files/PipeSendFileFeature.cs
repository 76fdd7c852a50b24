using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace Slipway.Server.Files;

/// <summary>
/// Serves <see cref="SendFileAsync"/> by reading the file straight into the response's pipe in large blocks. Kestrel's
/// own send-file copies through a 64 KiB stream buffer into the pipe (a read, a copy, a write per 64 KiB); here each
/// block is read from the page cache once, into the memory the socket sends from. Everything else is the server's.
/// </summary>
internal sealed class PipeSendFileFeature(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
{
    // Blocks above Kestrel's pool size come from the array pool; large blocks keep the read and send calls few.
    private const int BlockSize = 256 * 1024;

    public Stream Stream => inner.Stream;

    public PipeWriter Writer => inner.Writer;

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task CompleteAsync() => inner.CompleteAsync();

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.SequentialScan);
        var end = count is { } n ? offset + n : RandomAccess.GetLength(file);
        var writer = inner.Writer;
        for (var position = offset; position < end;)
        {
            var block = writer.GetMemory((int)Math.Min(BlockSize, end - position));
            var want = (int)Math.Min(block.Length, end - position);
            var read = RandomAccess.Read(file, block.Span[..want], position);
            if (read == 0)
                throw new IOException($"{path} ended at {position} bytes while {end} were being sent");
            writer.Advance(read);
            position += read;
            var flushed = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (flushed.IsCanceled || flushed.IsCompleted)
                return;
        }
    }
}
