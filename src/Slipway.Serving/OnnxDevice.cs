using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Slipway.Serving;

/// <summary>
/// Where ONNX versions run: <c>cpu</c>, <c>cuda</c> / <c>cuda:N</c> (ONNX Runtime's CUDA execution provider on GPU N), or
/// <c>auto</c> (GPU 0 when the runtime has the CUDA provider and a GPU answers, the CPU otherwise). The bundled runtime is
/// the CPU build; a host with a GPU points <see cref="UseLibrary"/> at a CUDA build of <c>libonnxruntime.so</c> (ONNX
/// Runtime's GPU release, 1.31 or later, with CUDA and cuDNN installed as that release requires).
/// </summary>
public sealed record OnnxDevice(string Name, int? Gpu)
{
    public const string CudaProvider = "CUDAExecutionProvider";
    public static readonly OnnxDevice Cpu = new("cpu", null);
    public static readonly OnnxDevice Auto = new("auto", null);

    private static readonly Lock LibraryLock = new();
    private static string? _library;

    public bool IsAuto => Name == "auto";

    public override string ToString() => Name;

    /// <summary>Reads <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>; throws <see cref="ArgumentException"/> naming the forms otherwise.</summary>
    public static OnnxDevice Parse(string text)
    {
        var value = text.Trim().ToLowerInvariant();
        if (value == "auto")
            return Auto;
        if (value == "cpu")
            return Cpu;
        if (value == "cuda")
            return new("cuda:0", 0);
        if (value.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(value.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var gpu) && gpu <= 1024)
            return new($"cuda:{gpu}", gpu);
        throw new ArgumentException($"device '{text}' is not one of auto, cpu, cuda, cuda:N");
    }

    /// <summary>The loaded ONNX Runtime's version.</summary>
    public static string RuntimeVersion() => OrtEnv.Instance().GetVersionString();

    /// <summary>The execution providers the loaded ONNX Runtime was built with.</summary>
    public static IReadOnlyList<string> AvailableProviders() => OrtEnv.Instance().GetAvailableProviders();

    /// <summary>
    /// Loads ONNX Runtime from <paramref name="path"/> rather than the bundled CPU build. Must run before the first session
    /// of the process; the same path again is a no-op, another path is refused (a process holds one runtime).
    /// </summary>
    public static void UseLibrary(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new ArgumentException($"ONNX Runtime library {full} does not exist");
        lock (LibraryLock)
        {
            if (_library == full)
                return;
            if (_library is not null)
                throw new ArgumentException($"this process already loads ONNX Runtime from {_library}");
            IntPtr handle;
            try
            {
                handle = NativeLibrary.Load(full);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new ArgumentException($"ONNX Runtime library {full} could not be loaded: {e.Message}");
            }
            if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out _))
            {
                NativeLibrary.Free(handle);
                throw new ArgumentException($"{full} is not an ONNX Runtime library (it has no OrtGetApiBase)");
            }
            // The managed package imports "onnxruntime"; every import of that assembly resolves to the given file.
            NativeLibrary.SetDllImportResolver(typeof(InferenceSession).Assembly, (name, _, _) =>
                name.Contains("onnxruntime", StringComparison.Ordinal) ? handle : IntPtr.Zero);
            _library = full;
        }
    }

    /// <summary>
    /// Sets <paramref name="options"/> up for this device and answers the device sessions will run on. Explicit CUDA on a
    /// runtime without the CUDA provider throws with the reason (the version fails, the others keep serving).
    /// </summary>
    internal OnnxDevice Apply(SessionOptions options)
    {
        if (Gpu is not { } gpu)
            return Cpu;
        if (!AvailableProviders().Contains(CudaProvider))
            throw new NotSupportedException($"device {Name}: this ONNX Runtime has no CUDA provider (it has {string.Join(", ", AvailableProviders())}); " +
                "start the host with --onnxruntime pointing at a CUDA build of libonnxruntime.so");
        options.AppendExecutionProvider_CUDA(gpu);
        return this;
    }

    /// <summary>What <c>auto</c> tries: GPU 0 when the runtime can drive one, otherwise nothing (the CPU).</summary>
    internal static OnnxDevice? AutoCandidate() => AvailableProviders().Contains(CudaProvider) ? new("cuda:0", 0) : null;
}
