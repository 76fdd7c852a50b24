using Microsoft.ML.OnnxRuntime;

namespace Slipway.Serving;

/// <summary>An input or output as the model declares it; -1 marks a variable dimension.</summary>
public sealed record TensorSpec(string Name, string Datatype, long[] Shape);

/// <summary>
/// One ONNX Runtime session for one endpoint version, shared by all its requests (a session is safe to run concurrently).
/// Inputs are handed to the runtime where they lie, pinned for the call, so a request's bytes are not copied again.
/// </summary>
public sealed class OnnxModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;

    private OnnxModel(InferenceSession session, OnnxDevice device, string deviceNote)
    {
        _session = session;
        Device = device;
        DeviceNote = deviceNote;
        Inputs = session.InputMetadata.Select(p => Spec(p.Key, p.Value)).ToList();
        Outputs = session.OutputMetadata.Select(p => Spec(p.Key, p.Value)).ToList();
        _outputNames = Outputs.Select(o => o.Name).ToArray();
    }

    public IReadOnlyList<TensorSpec> Inputs { get; }
    public IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>Where the session runs (cpu or cuda:N).</summary>
    public OnnxDevice Device { get; }

    /// <summary>Why an <c>auto</c> device ended on the CPU although the runtime has the CUDA provider; empty otherwise.</summary>
    public string DeviceNote { get; }

    /// <summary>Opens the model file on the CPU.</summary>
    public static OnnxModel Load(string path, int intraOpThreads) => Load(path, intraOpThreads, OnnxDevice.Cpu);

    /// <summary>
    /// Opens the model file on <paramref name="device"/>; throws with the runtime's reason when it is not a model this
    /// runtime can run, or when an explicit device cannot be used. <c>auto</c> tries GPU 0 when the runtime has the CUDA
    /// provider and falls back to the CPU, keeping the reason in <see cref="DeviceNote"/>.
    /// </summary>
    public static OnnxModel Load(string path, int intraOpThreads, OnnxDevice device)
    {
        if (!device.IsAuto)
            return Open(path, intraOpThreads, device, "");
        if (OnnxDevice.AutoCandidate() is not { } gpu)
            return Open(path, intraOpThreads, OnnxDevice.Cpu, "");
        try
        {
            return Open(path, intraOpThreads, gpu, "");
        }
        catch (OnnxRuntimeException e)
        {
            return Open(path, intraOpThreads, OnnxDevice.Cpu, $"{gpu} could not be used: {e.Message}");
        }
    }

    private static OnnxModel Open(string path, int intraOpThreads, OnnxDevice device, string note)
    {
        using var options = new SessionOptions { IntraOpNumThreads = intraOpThreads, InterOpNumThreads = 1 };
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
        // Threads that spin between runs would take the cores that parse the requests filling the next batch.
        if (intraOpThreads > 1)
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        var used = device.Apply(options);
        return new OnnxModel(new InferenceSession(path, options), used, note);
    }

    private static TensorSpec Spec(string name, NodeMetadata meta)
    {
        if (!meta.IsTensor)
            throw new NotSupportedException($"'{name}' is not a tensor; only tensor inputs and outputs are served");
        var datatype = Datatypes.NameOf(meta.ElementDataType) ?? throw new NotSupportedException($"'{name}' has element type {meta.ElementDataType}, which is not served");
        return new TensorSpec(name, datatype, meta.Dimensions.Select(d => d < 0 ? -1L : d).ToArray());
    }

    /// <summary>Checks inputs against the model's declaration: every input given once, its datatype, rank, fixed dimensions and length.</summary>
    public void Validate(IReadOnlyList<TensorData> inputs)
    {
        foreach (var given in inputs)
        {
            if (!Inputs.Any(i => i.Name == given.Name))
                throw new BadRequestException($"unexpected input '{given.Name}' (the model takes {string.Join(", ", Inputs.Select(i => i.Name))})");
        }
        foreach (var spec in Inputs)
        {
            var matches = inputs.Where(i => i.Name == spec.Name).ToList();
            if (matches.Count != 1)
                throw new BadRequestException(matches.Count == 0 ? $"input '{spec.Name}' is missing" : $"input '{spec.Name}' is given {matches.Count} times");
            var tensor = matches[0];
            if (tensor.Datatype != spec.Datatype)
                throw new BadRequestException($"input '{spec.Name}' has datatype {tensor.Datatype}; the model takes {spec.Datatype}");
            if (tensor.Shape.Length != spec.Shape.Length)
                throw new BadRequestException($"input '{spec.Name}' has shape [{string.Join(",", tensor.Shape)}]; the model takes [{string.Join(",", spec.Shape)}]");
            for (var d = 0; d < spec.Shape.Length; d++)
            {
                if (tensor.Shape[d] < 0 || (spec.Shape[d] >= 0 && tensor.Shape[d] != spec.Shape[d]))
                    throw new BadRequestException($"input '{spec.Name}' has shape [{string.Join(",", tensor.Shape)}]; the model takes [{string.Join(",", spec.Shape)}]");
            }
            long expected;
            try
            {
                expected = checked(tensor.ElementCount * Datatypes.Size(spec.Datatype));
            }
            catch (OverflowException)
            {
                throw new BadRequestException($"input '{spec.Name}': shape [{string.Join(",", tensor.Shape)}] is too large");
            }
            if (tensor.Data.Length != expected)
                throw new BadRequestException($"input '{spec.Name}' has {tensor.Data.Length} bytes of data; shape [{string.Join(",", tensor.Shape)}] of {spec.Datatype} needs {expected}");
        }
    }

    /// <summary>Runs the model on validated inputs; the outputs are copied out of the runtime's buffers.</summary>
    public unsafe List<TensorData> Run(IReadOnlyList<TensorData> inputs)
    {
        var names = new string[inputs.Count];
        var values = new OrtValue[inputs.Count];
        var pins = new System.Buffers.MemoryHandle[inputs.Count];
        try
        {
            for (var i = 0; i < inputs.Count; i++)
            {
                var tensor = inputs[i];
                names[i] = tensor.Name;
                pins[i] = tensor.Data.AsMemory().Pin();
                values[i] = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, Datatypes.ElementType(tensor.Datatype), tensor.Shape,
                    (IntPtr)pins[i].Pointer, tensor.Data.Length);
            }
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, names, values, _outputNames);
            var outputs = new List<TensorData>(_outputNames.Length);
            var index = 0;
            foreach (var result in results)
            {
                var info = result.GetTensorTypeAndShape();
                var datatype = Datatypes.NameOf(info.ElementDataType) ?? throw new NotSupportedException($"output element type {info.ElementDataType}");
                outputs.Add(new TensorData(_outputNames[index++], datatype, info.Shape, result.GetTensorMutableRawData().ToArray()));
            }
            return outputs;
        }
        finally
        {
            foreach (var value in values)
                value?.Dispose();
            foreach (var pin in pins)
                pin.Dispose();
        }
    }

    /// <summary>An input of zeros for each declared input, variable dimensions as 1: what warm-up runs before traffic comes.</summary>
    public List<TensorData> ZeroInputs() => Inputs.Select(spec =>
    {
        var shape = spec.Shape.Select(d => d < 0 ? 1L : d).ToArray();
        return new TensorData(spec.Name, spec.Datatype, shape, new byte[TensorData.Elements(shape) * Datatypes.Size(spec.Datatype)]);
    }).ToList();

    public void Dispose() => _session.Dispose();
}
