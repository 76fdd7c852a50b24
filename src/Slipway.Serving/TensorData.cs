using Microsoft.ML.OnnxRuntime.Tensors;

namespace Slipway.Serving;

/// <summary>
/// A named tensor as raw little-endian bytes in row-major order: what the V2 binary extension carries and what ONNX Runtime
/// reads, so a binary request is never converted and a JSON one is converted once.
/// </summary>
public sealed record TensorData(string Name, string Datatype, long[] Shape, byte[] Data)
{
    public long ElementCount => Elements(Shape);

    public static long Elements(long[] shape)
    {
        long count = 1;
        foreach (var d in shape)
            count = checked(count * d);
        return count;
    }
}

/// <summary>The V2 protocol's datatype names, their ONNX Runtime element types and sizes.</summary>
public static class Datatypes
{
    private static readonly Dictionary<string, (TensorElementType Type, int Size)> ByName = new(StringComparer.Ordinal)
    {
        ["BOOL"] = (TensorElementType.Bool, 1),
        ["UINT8"] = (TensorElementType.UInt8, 1),
        ["INT8"] = (TensorElementType.Int8, 1),
        ["UINT16"] = (TensorElementType.UInt16, 2),
        ["INT16"] = (TensorElementType.Int16, 2),
        ["UINT32"] = (TensorElementType.UInt32, 4),
        ["INT32"] = (TensorElementType.Int32, 4),
        ["UINT64"] = (TensorElementType.UInt64, 8),
        ["INT64"] = (TensorElementType.Int64, 8),
        ["FP16"] = (TensorElementType.Float16, 2),
        ["FP32"] = (TensorElementType.Float, 4),
        ["FP64"] = (TensorElementType.Double, 8),
    };

    public static bool IsKnown(string name) => ByName.ContainsKey(name);

    public static int Size(string name) => ByName[name].Size;

    public static TensorElementType ElementType(string name) => ByName[name].Type;

    public static string? NameOf(TensorElementType type) => ByName.FirstOrDefault(p => p.Value.Type == type).Key;
}

/// <summary>A request the caller got wrong (shape, datatype, length, JSON): answered 400 with the message.</summary>
public sealed class BadRequestException(string message, int status = 400) : Exception(message)
{
    public int Status { get; } = status;
}
