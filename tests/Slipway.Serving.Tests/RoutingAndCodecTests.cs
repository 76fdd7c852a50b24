using System.Text;
using System.Text.Json.Nodes;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

/// <summary>Pure logic: which version a request goes to, and how a V2 body is read.</summary>
public sealed class RoutingAndCodecTests
{
    private static ServedVersion Version(long number, VersionState state)
    {
        var version = new ServedVersion("e", "e", number, "m", $"http://x/{number}");
        if (state == VersionState.Failed)
            version.SetFailed("broken");
        return version;
    }

    [Fact]
    public void No_version_is_picked_while_none_is_ready()
    {
        var loading = Version(2, VersionState.Loading);
        var failed = Version(3, VersionState.Failed);
        var route = new EndpointRoute("e", "e", false, new HashSet<string>(), 100, [(Version(1, VersionState.Loading), 0), (loading, 1), (failed, 1)]);
        Assert.Null(route.Pick(new Random(1)));
    }

    [Fact]
    public void Weights_split_among_ready_versions_and_the_newest_ready_one_covers_a_loading_one()
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "m.onnx");
        File.WriteAllBytes(path, new Mlp(2, 2, 1, 1).ToOnnx());
        var ready = Version(1, VersionState.Loading);
        ready.SetReady(OnnxModel.Load(path, 1), null);
        var other = Version(2, VersionState.Loading);
        other.SetReady(OnnxModel.Load(path, 1), null);
        var route = new EndpointRoute("e", "e", false, new HashSet<string>(), 100, [(ready, 0), (other, 0), (Version(3, VersionState.Loading), 1)]);
        // The weighted version is loading and the ready ones have no weight: the newest ready one answers.
        Assert.Same(other, route.Pick(new Random(1)));
        var split = new EndpointRoute("e", "e", false, new HashSet<string>(), 100, [(ready, 3), (other, 1)]);
        var random = new Random(7);
        var toOther = Enumerable.Range(0, 4000).Count(_ => split.Pick(random) == other);
        Assert.InRange(toOther, 1000 - 150, 1000 + 150);
        ready.Model!.Dispose();
        other.Model!.Dispose();
    }

    [Fact]
    public void A_binary_body_whose_sizes_do_not_add_up_is_refused()
    {
        byte[] Body(int declaredSize, int rawBytes, out int headerLength)
        {
            var header = Encoding.UTF8.GetBytes(new JsonObject
            {
                ["inputs"] = new JsonArray(new JsonObject
                {
                    ["name"] = "input", ["datatype"] = "FP32", ["shape"] = new JsonArray(1, 4),
                    ["parameters"] = new JsonObject { ["binary_data_size"] = declaredSize },
                }),
            }.ToJsonString());
            headerLength = header.Length;
            return [.. header, .. new byte[rawBytes]];
        }

        var ok = Body(16, 16, out var length);
        Assert.Equal(16, V2Codec.Parse(ok, length).Inputs.Single().Data.Length);
        Assert.Contains("outside", Assert.Throws<BadRequestException>(() => V2Codec.Parse(Body(32, 16, out var l1), l1)).Message);
        Assert.Contains("after the inputs", Assert.Throws<BadRequestException>(() => V2Codec.Parse(Body(16, 20, out var l2), l2)).Message);
        Assert.Contains("Inference-Header-Content-Length", Assert.Throws<BadRequestException>(() => V2Codec.Parse(ok, ok.Length + 1)).Message);
    }

    [Fact]
    public void Nested_rows_must_be_rectangular()
    {
        using var doc = System.Text.Json.JsonDocument.Parse("[[1,2],[3]]");
        Assert.Contains("rectangular", Assert.Throws<BadRequestException>(() => TensorJson.ShapeOf(doc.RootElement, "x")).Message);
        using var good = System.Text.Json.JsonDocument.Parse("[[1,2],[3,4],[5,6]]");
        Assert.Equal([3L, 2L], TensorJson.ShapeOf(good.RootElement, "x"));
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("slipway-routing-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
