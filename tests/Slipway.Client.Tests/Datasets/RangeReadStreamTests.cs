using Slipway.Client.Datasets;
using Slipway.Client.Tests.Infrastructure;

namespace Slipway.Client.Tests.Datasets;

/// <summary>The seekable HTTP view the dataset get reads zip chunks through, against the real file server.</summary>
public sealed class RangeReadStreamTests(ClientTestServer server) : IClassFixture<ClientTestServer>
{
    [Fact]
    public async Task Large_and_small_reads_steps_back_and_skips_return_the_files_bytes()
    {
        using var scratch = new DatasetScratch(server);
        using var client = scratch.Client();
        var content = DatasetScratch.Bytes(5 * RangeReadStream.TailSize, 3);
        var url = await client.Files.UploadAsync(new MemoryStream(content), $"range-{Guid.NewGuid():N}/blob.bin");
        await using var stream = await RangeReadStream.OpenAsync(client.Files, url, progress: null, maxRetries: 2, CancellationToken.None);
        Assert.Equal(content.Length, stream.Length);

        async Task Expect(long at, int count)
        {
            stream.Position = at;
            var read = new byte[count];
            await stream.ReadExactlyAsync(read);
            Assert.Equal(content.AsSpan((int)at, count).ToArray(), read);
        }
        await Expect(0, 30);               // a local header: through the window
        await Expect(0, 200_000);          // a step back, then a large read straight into the buffer
        await Expect(199_000, 100);        // a short step back into the kept bytes
        await Expect(199_100, 8192);       // small reads after it
        await Expect(207_292, 300_000);
        await Expect(900_000, 50_000);     // a skip forward, read through
        await Expect(100, 64);             // far back: a new request
        await Expect(content.Length - 1000, 1000); // the kept tail
        var all = new byte[content.Length];
        stream.Position = 0;
        await stream.ReadExactlyAsync(all);
        Assert.Equal(content, all);
    }
}
