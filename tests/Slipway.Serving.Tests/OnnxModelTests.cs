using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

public sealed class OnnxModelTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("slipway-onnx-").FullName;

    [Fact]
    public void A_hand_written_mlp_runs_and_equals_its_math()
    {
        var mlp = new Mlp(4, 8, 3, seed: 1);
        var path = Path.Combine(_folder, "mlp.onnx");
        File.WriteAllBytes(path, mlp.ToOnnx());
        using var model = OnnxModel.Load(path, 1);
        Assert.Equal([-1L, 4L], model.Inputs.Single().Shape);
        Assert.Equal("FP32", model.Inputs.Single().Datatype);
        float[] x = [0.5f, -1, 2, 0.25f, 1, 1, -1, 0];
        var input = new TensorData("input", "FP32", [2, 4], Floats.Bytes(x));
        model.Validate([input]);
        var output = model.Run([input]).Single();
        Assert.Equal([2L, 3L], output.Shape);
        Assert.Equal(mlp.Compute(x), Floats.From(output.Data), new Tolerance(1e-5f));
    }

    [Fact]
    public void Wrong_shape_datatype_and_length_are_refused_with_the_reason()
    {
        var path = Path.Combine(_folder, "mlp.onnx");
        File.WriteAllBytes(path, new Mlp(4, 8, 3, seed: 1).ToOnnx());
        using var model = OnnxModel.Load(path, 1);
        Assert.Contains("shape", Assert.Throws<BadRequestException>(() => model.Validate([new TensorData("input", "FP32", [1, 5], new byte[20])])).Message);
        Assert.Contains("datatype", Assert.Throws<BadRequestException>(() => model.Validate([new TensorData("input", "FP64", [1, 4], new byte[32])])).Message);
        Assert.Contains("bytes", Assert.Throws<BadRequestException>(() => model.Validate([new TensorData("input", "FP32", [1, 4], new byte[12])])).Message);
        Assert.Contains("missing", Assert.Throws<BadRequestException>(() => model.Validate([])).Message);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
