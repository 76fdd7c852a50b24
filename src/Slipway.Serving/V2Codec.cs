using System.Buffers;
using System.Text.Json;

namespace Slipway.Serving;

/// <summary>A parsed V2 inference request: its inputs, and which outputs the caller wants and how (JSON or binary).</summary>
public sealed record V2Request(string? Id, List<TensorData> Inputs, List<(string Name, bool Binary)> Outputs, bool BinaryOutputs);

/// <summary>
/// The Open Inference Protocol (KServe V2) REST body, with the binary tensor extension: a JSON header of
/// <c>Inference-Header-Content-Length</c> bytes followed by raw tensors in input order, each input naming its
/// <c>binary_data_size</c>.
/// </summary>
public static class V2Codec
{
    public static V2Request Parse(ReadOnlyMemory<byte> body, int? headerLength)
    {
        if (headerLength is { } h && (h < 0 || h > body.Length))
            throw new BadRequestException($"Inference-Header-Content-Length {h} is outside the body of {body.Length} bytes");
        var header = headerLength is { } length ? body[..length] : body;
        var binary = headerLength is { } start ? body[start..] : ReadOnlyMemory<byte>.Empty;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"the body is not JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new BadRequestException("the body must be a JSON object");
            var id = root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
            if (!root.TryGetProperty("inputs", out var inputsElement) || inputsElement.ValueKind != JsonValueKind.Array)
                throw new BadRequestException("'inputs' must be an array");
            var inputs = new List<TensorData>();
            var offset = 0;
            foreach (var input in inputsElement.EnumerateArray())
                inputs.Add(ParseInput(input, binary, ref offset));
            if (offset != binary.Length)
                throw new BadRequestException($"the body has {binary.Length - offset} bytes after the inputs' binary data");
            var binaryAll = root.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object
                && parameters.TryGetProperty("binary_data_output", out var all) && all.ValueKind == JsonValueKind.True;
            var outputs = new List<(string, bool)>();
            if (root.TryGetProperty("outputs", out var outputsElement) && outputsElement.ValueKind == JsonValueKind.Array)
            {
                foreach (var output in outputsElement.EnumerateArray())
                {
                    if (output.ValueKind != JsonValueKind.Object || !output.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                        throw new BadRequestException("each of 'outputs' needs a name");
                    var wantsBinary = output.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object
                        && p.TryGetProperty("binary_data", out var b) && b.ValueKind == JsonValueKind.True;
                    outputs.Add((name.GetString()!, wantsBinary || binaryAll));
                }
            }
            return new V2Request(id, inputs, outputs, binaryAll);
        }
    }

    /// <summary>
    /// A raw binary request (<c>Inference-Header-Content-Length: 0</c>): the body is the model's only input, batch 1, its one
    /// variable dimension (if any) taken from the body's length; the outputs are answered as JSON.
    /// </summary>
    public static V2Request Raw(ReadOnlyMemory<byte> body, IReadOnlyList<TensorSpec> inputs)
    {
        if (inputs.Count != 1)
            throw new BadRequestException($"a raw binary request needs a model with one input; this one takes {inputs.Count}");
        var spec = inputs[0];
        var shape = spec.Shape.ToArray();
        var variable = Enumerable.Range(0, shape.Length).Where(d => shape[d] < 0).ToList();
        if (variable.Count > 0 && variable[0] == 0)
        {
            shape[0] = 1;
            variable.RemoveAt(0);
        }
        if (variable.Count > 1)
            throw new BadRequestException($"a raw binary request needs an input with at most one variable dimension besides the batch; '{spec.Name}' has [{string.Join(",", spec.Shape)}]");
        if (variable.Count == 1)
        {
            shape[variable[0]] = 1;
            var rowBytes = TensorData.Elements(shape) * Datatypes.Size(spec.Datatype);
            if (rowBytes == 0 || body.Length % rowBytes != 0)
                throw new BadRequestException($"a raw body of {body.Length} bytes does not fill input '{spec.Name}' [{string.Join(",", spec.Shape)}] of {spec.Datatype}");
            shape[variable[0]] = body.Length / rowBytes;
        }
        return new V2Request(null, [new TensorData(spec.Name, spec.Datatype, shape, body.ToArray())], [], false);
    }

    private static TensorData ParseInput(JsonElement input, ReadOnlyMemory<byte> binary, ref int offset)
    {
        if (input.ValueKind != JsonValueKind.Object)
            throw new BadRequestException("each of 'inputs' must be an object");
        var name = input.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : throw new BadRequestException("an input has no name");
        var datatype = input.TryGetProperty("datatype", out var dt) && dt.ValueKind == JsonValueKind.String ? dt.GetString()! : throw new BadRequestException($"input '{name}' has no datatype");
        if (!Datatypes.IsKnown(datatype))
            throw new BadRequestException($"input '{name}': datatype '{datatype}' is not supported");
        if (!input.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new BadRequestException($"input '{name}' has no shape");
        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var d) || d < 0)
                throw new BadRequestException($"input '{name}': shape holds whole numbers of at least 0");
            shape[i++] = d;
        }
        long elements;
        try
        {
            elements = TensorData.Elements(shape);
        }
        catch (OverflowException)
        {
            throw new BadRequestException($"input '{name}': shape too large");
        }
        if (input.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object
            && parameters.TryGetProperty("binary_data_size", out var sizeElement))
        {
            if (!sizeElement.TryGetInt32(out var size) || size < 0 || size > binary.Length - offset)
                throw new BadRequestException($"input '{name}': binary_data_size is outside the body's binary data");
            var data = binary.Slice(offset, size).ToArray();
            offset += size;
            return new TensorData(name, datatype, shape, data);
        }
        if (!input.TryGetProperty("data", out var values))
            throw new BadRequestException($"input '{name}' has no data");
        return new TensorData(name, datatype, shape, TensorJson.Read(values, datatype, elements, name));
    }

    /// <summary>Writes the answer; returns the JSON header's length when binary outputs follow it (null for plain JSON).</summary>
    public static int? WriteResponse(ArrayBufferWriter<byte> to, string model, string version, string? id, IReadOnlyList<TensorData> outputs, V2Request request)
    {
        var binary = new List<TensorData>();
        using (var json = new Utf8JsonWriter(to))
        {
            json.WriteStartObject();
            json.WriteString("model_name", model);
            json.WriteString("model_version", version);
            if (id is not null)
                json.WriteString("id", id);
            json.WriteStartArray("outputs");
            foreach (var output in outputs)
            {
                (string? Name, bool Binary) asked = request.Outputs.Count == 0 ? (output.Name, request.BinaryOutputs) : request.Outputs.FirstOrDefault(o => o.Name == output.Name);
                if (asked.Name is null)
                    continue;
                json.WriteStartObject();
                json.WriteString("name", output.Name);
                json.WriteString("datatype", output.Datatype);
                json.WriteStartArray("shape");
                foreach (var d in output.Shape)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                if (asked.Binary)
                {
                    json.WriteStartObject("parameters");
                    json.WriteNumber("binary_data_size", output.Data.Length);
                    json.WriteEndObject();
                    binary.Add(output);
                }
                else
                {
                    json.WritePropertyName("data");
                    TensorJson.WriteFlat(json, output);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        if (binary.Count == 0)
            return null;
        var headerLength = to.WrittenCount;
        foreach (var output in binary)
            to.Write(output.Data);
        return headerLength;
    }

    /// <summary>Checks that the outputs the caller named exist.</summary>
    public static void CheckOutputs(V2Request request, IReadOnlyList<TensorSpec> outputs)
    {
        foreach (var (name, _) in request.Outputs)
        {
            if (!outputs.Any(o => o.Name == name))
                throw new BadRequestException($"unknown output '{name}' (the model gives {string.Join(", ", outputs.Select(o => o.Name))})");
        }
    }
}
