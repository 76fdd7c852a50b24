using System.Text.Json.Nodes;
using Slipway.Serving.Tests.Infrastructure;

namespace Slipway.Serving.Tests;

/// <summary>
/// Where ONNX versions run. This machine has the bundled CPU build and no GPU, so what is checked here is the device
/// choice, the refusals and the report; a CUDA session itself needs a GPU host with the runtime's CUDA build.
/// </summary>
public sealed class OnnxDeviceTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("slipway-onnx-device-").FullName;

    [Theory]
    [InlineData("auto", "auto", null)]
    [InlineData("CPU", "cpu", null)]
    [InlineData("cuda", "cuda:0", 0)]
    [InlineData(" cuda:3 ", "cuda:3", 3)]
    public void Devices_are_read_in_their_forms(string text, string name, int? gpu)
    {
        var device = OnnxDevice.Parse(text);
        Assert.Equal(name, device.Name);
        Assert.Equal(gpu, device.Gpu);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("")]
    public void Other_devices_are_refused_naming_the_forms(string text) =>
        Assert.Contains("auto, cpu, cuda, cuda:N", Assert.Throws<ArgumentException>(() => OnnxDevice.Parse(text)).Message);

    [Fact]
    public void Auto_runs_on_the_cpu_when_the_runtime_has_no_cuda_provider()
    {
        Assert.DoesNotContain(OnnxDevice.CudaProvider, OnnxDevice.AvailableProviders());
        using var model = OnnxModel.Load(ModelFile(), 1, OnnxDevice.Auto);
        Assert.Equal("cpu", model.Device.Name);
        Assert.Equal("", model.DeviceNote);
        Assert.Single(model.Run(model.ZeroInputs()));
    }

    [Fact]
    public void Explicit_cuda_without_the_provider_is_refused_with_what_to_do()
    {
        var error = Assert.Throws<NotSupportedException>(() => OnnxModel.Load(ModelFile(), 1, OnnxDevice.Parse("cuda:1")));
        Assert.Contains("cuda:1", error.Message);
        Assert.Contains("no CUDA provider", error.Message);
        Assert.Contains("--onnxruntime", error.Message);
    }

    [Fact]
    public void A_runtime_library_that_is_missing_or_not_onnx_runtime_is_refused()
    {
        var missing = Path.Combine(_folder, "libonnxruntime.so");
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => OnnxDevice.UseLibrary(missing)).Message);
        var text = Path.Combine(_folder, "not-a-library.so");
        File.WriteAllText(text, "not an ELF file");
        Assert.Contains("could not be loaded", Assert.Throws<ArgumentException>(() => OnnxDevice.UseLibrary(text)).Message);
        // A real shared library that is not ONNX Runtime.
        var libc = new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib64/libc.so.6" }.First(File.Exists);
        Assert.Contains("not an ONNX Runtime library", Assert.Throws<ArgumentException>(() => OnnxDevice.UseLibrary(libc)).Message);
    }

    private string ModelFile()
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, new Mlp(4, 8, 3, seed: 1).ToOnnx());
        return path;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}

/// <summary>A host started for a device it cannot use fails its ONNX versions with the reason; the server shows where versions run.</summary>
public sealed class OnnxDeviceHostTests
{
    [Fact]
    public async Task A_host_reports_the_device_each_version_runs_on()
    {
        var f = new ServingFixture();
        await f.InitializeAsync();
        try
        {
            var endpoint = await f.CreateEndpointAsync("on-cpu");
            var version = await f.AddVersionAsync(endpoint, await f.RegisterModelAsync(new Mlp(4, 8, 3, seed: 2).ToOnnx()));
            await ServingFixture.WaitForAsync(async () => (await f.InstancesAsync(endpoint, version))
                .Any(i => i!["state"]!.GetValue<string>() == "ready" && i["device"]?.GetValue<string>() == "cpu"), "the host to report the version ready on cpu");
        }
        finally
        {
            await f.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_host_asked_for_cuda_without_it_fails_onnx_versions_with_the_reason()
    {
        var f = new ServingFixture(options => options.Device = OnnxDevice.Parse("cuda"));
        await f.InitializeAsync();
        try
        {
            var endpoint = await f.CreateEndpointAsync("on-gpu");
            var version = await f.AddVersionAsync(endpoint, await f.RegisterModelAsync(new Mlp(4, 8, 3, seed: 3).ToOnnx()));
            JsonNode? failed = null;
            await ServingFixture.WaitForAsync(async () =>
            {
                failed = (await f.InstancesAsync(endpoint, version)).FirstOrDefault(i => i!["state"]!.GetValue<string>() == "failed");
                return failed is not null;
            }, "the host to report the version failed");
            Assert.Contains("no CUDA provider", failed!["reason"]!.GetValue<string>());
            Assert.Equal("", failed["device"]!.GetValue<string>());
        }
        finally
        {
            await f.DisposeAsync();
        }
    }
}
