using System.Buffers.Binary;
using System.Text.Json;

namespace Slipway.Serving;

/// <summary>Tensor data between JSON numbers (nested or flat, row-major) and raw little-endian bytes.</summary>
public static class TensorJson
{
    /// <summary>Reads the numbers of <paramref name="data"/> (nested arrays are flattened) as <paramref name="datatype"/>.</summary>
    public static byte[] Read(JsonElement data, string datatype, long elements, string name)
    {
        if (data.ValueKind != JsonValueKind.Array)
            throw new BadRequestException($"input '{name}': data must be an array");
        var size = Datatypes.Size(datatype);
        if (elements < 0 || elements * size > int.MaxValue)
            throw new BadRequestException($"input '{name}': shape too large");
        var bytes = new byte[elements * size];
        var index = 0L;
        ReadInto(data, datatype, bytes, ref index, elements, name);
        if (index != elements)
            throw new BadRequestException($"input '{name}' has {index} values; its shape needs {elements}");
        return bytes;
    }

    private static void ReadInto(JsonElement array, string datatype, byte[] bytes, ref long index, long elements, string name)
    {
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Array)
            {
                ReadInto(item, datatype, bytes, ref index, elements, name);
                continue;
            }
            if (index >= elements)
            {
                index++;
                continue; // counted, so the error names the real number of values
            }
            Write(item, datatype, bytes.AsSpan((int)(index * Datatypes.Size(datatype))), name);
            index++;
        }
    }

    private static void Write(JsonElement item, string datatype, Span<byte> to, string name)
    {
        var ok = datatype switch
        {
            "BOOL" => item.ValueKind is JsonValueKind.True or JsonValueKind.False && Set(to, item.ValueKind == JsonValueKind.True),
            "FP32" => item.ValueKind == JsonValueKind.Number && item.TryGetDouble(out var f) && SetSingle(to, (float)f),
            "FP64" => item.ValueKind == JsonValueKind.Number && item.TryGetDouble(out var d) && SetDouble(to, d),
            "FP16" => item.ValueKind == JsonValueKind.Number && item.TryGetDouble(out var h) && SetHalf(to, (Half)h),
            "INT8" => item.ValueKind == JsonValueKind.Number && item.TryGetSByte(out var i8) && Set(to, (byte)i8),
            "UINT8" => item.ValueKind == JsonValueKind.Number && item.TryGetByte(out var u8) && Set(to, u8),
            "INT16" => item.ValueKind == JsonValueKind.Number && item.TryGetInt16(out var i16) && Set16(to, (ushort)i16),
            "UINT16" => item.ValueKind == JsonValueKind.Number && item.TryGetUInt16(out var u16) && Set16(to, u16),
            "INT32" => item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var i32) && Set32(to, (uint)i32),
            "UINT32" => item.ValueKind == JsonValueKind.Number && item.TryGetUInt32(out var u32) && Set32(to, u32),
            "INT64" => item.ValueKind == JsonValueKind.Number && item.TryGetInt64(out var i64) && Set64(to, (ulong)i64),
            "UINT64" => item.ValueKind == JsonValueKind.Number && item.TryGetUInt64(out var u64) && Set64(to, u64),
            _ => false,
        };
        if (!ok)
            throw new BadRequestException($"input '{name}': {item.GetRawText()} is not a {datatype} value");
    }

    private static bool Set(Span<byte> to, bool value) => Set(to, value ? (byte)1 : (byte)0);
    private static bool Set(Span<byte> to, byte value) { to[0] = value; return true; }
    private static bool Set16(Span<byte> to, ushort value) { BinaryPrimitives.WriteUInt16LittleEndian(to, value); return true; }
    private static bool Set32(Span<byte> to, uint value) { BinaryPrimitives.WriteUInt32LittleEndian(to, value); return true; }
    private static bool Set64(Span<byte> to, ulong value) { BinaryPrimitives.WriteUInt64LittleEndian(to, value); return true; }
    private static bool SetSingle(Span<byte> to, float value) { BinaryPrimitives.WriteSingleLittleEndian(to, value); return true; }
    private static bool SetDouble(Span<byte> to, double value) { BinaryPrimitives.WriteDoubleLittleEndian(to, value); return true; }
    private static bool SetHalf(Span<byte> to, Half value) { BinaryPrimitives.WriteHalfLittleEndian(to, value); return true; }

    /// <summary>Writes the tensor's values as one flat JSON array.</summary>
    public static void WriteFlat(Utf8JsonWriter json, TensorData tensor)
    {
        json.WriteStartArray();
        WriteValues(json, tensor, 0, (int)tensor.ElementCount);
        json.WriteEndArray();
    }

    /// <summary>Writes the tensor's values nested by its shape (what /serve answers: a plain JSON array per output).</summary>
    public static void WriteNested(Utf8JsonWriter json, TensorData tensor)
    {
        var index = 0;
        Nested(json, tensor, 0, ref index);
    }

    private static void Nested(Utf8JsonWriter json, TensorData tensor, int dim, ref int index)
    {
        if (dim == tensor.Shape.Length)
        {
            WriteValues(json, tensor, index, 1);
            index++;
            return;
        }
        json.WriteStartArray();
        if (dim == tensor.Shape.Length - 1)
        {
            WriteValues(json, tensor, index, (int)tensor.Shape[dim]);
            index += (int)tensor.Shape[dim];
        }
        else
        {
            for (var i = 0; i < tensor.Shape[dim]; i++)
                Nested(json, tensor, dim + 1, ref index);
        }
        json.WriteEndArray();
    }

    private static void WriteValues(Utf8JsonWriter json, TensorData tensor, int start, int count)
    {
        var size = Datatypes.Size(tensor.Datatype);
        var data = tensor.Data.AsSpan(start * size, count * size);
        for (var i = 0; i < count; i++)
        {
            var at = data.Slice(i * size, size);
            switch (tensor.Datatype)
            {
                case "BOOL": json.WriteBooleanValue(at[0] != 0); break;
                case "FP32": json.WriteNumberValue(BinaryPrimitives.ReadSingleLittleEndian(at)); break;
                case "FP64": json.WriteNumberValue(BinaryPrimitives.ReadDoubleLittleEndian(at)); break;
                case "FP16": json.WriteNumberValue((float)BinaryPrimitives.ReadHalfLittleEndian(at)); break;
                case "INT8": json.WriteNumberValue((sbyte)at[0]); break;
                case "UINT8": json.WriteNumberValue(at[0]); break;
                case "INT16": json.WriteNumberValue(BinaryPrimitives.ReadInt16LittleEndian(at)); break;
                case "UINT16": json.WriteNumberValue(BinaryPrimitives.ReadUInt16LittleEndian(at)); break;
                case "INT32": json.WriteNumberValue(BinaryPrimitives.ReadInt32LittleEndian(at)); break;
                case "UINT32": json.WriteNumberValue(BinaryPrimitives.ReadUInt32LittleEndian(at)); break;
                case "INT64": json.WriteNumberValue(BinaryPrimitives.ReadInt64LittleEndian(at)); break;
                case "UINT64": json.WriteNumberValue(BinaryPrimitives.ReadUInt64LittleEndian(at)); break;
                default: throw new NotSupportedException(tensor.Datatype);
            }
        }
    }

    /// <summary>The shape of nested arrays (a rectangular block of values); throws when rows differ in length.</summary>
    public static long[] ShapeOf(JsonElement data, string name)
    {
        var shape = new List<long>();
        var level = data;
        while (level.ValueKind == JsonValueKind.Array)
        {
            shape.Add(level.GetArrayLength());
            if (level.GetArrayLength() == 0)
                break;
            level = level[0];
        }
        if (shape.Count == 0)
            throw new BadRequestException($"input '{name}': expected an array of values");
        Check(data, shape, 0, name);
        return shape.ToArray();
    }

    private static void Check(JsonElement data, List<long> shape, int dim, string name)
    {
        if (dim == shape.Count)
        {
            if (data.ValueKind == JsonValueKind.Array)
                throw new BadRequestException($"input '{name}': rows are nested to different depths");
            return;
        }
        if (data.ValueKind != JsonValueKind.Array || data.GetArrayLength() != shape[dim])
            throw new BadRequestException($"input '{name}': rows differ in length (not a rectangular tensor)");
        foreach (var item in data.EnumerateArray())
            Check(item, shape, dim + 1, name);
    }
}
