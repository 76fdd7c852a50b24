using System.Buffers;
using System.Text;

namespace Slipway.Serving.Tests.Infrastructure;

/// <summary>
/// A two-layer perceptron (MatMul, Add, Relu, MatMul, Add) written as an ONNX file by hand: the protobuf fields of ModelProto,
/// GraphProto, NodeProto, TensorProto and ValueInfoProto that such a graph needs, and the same math in C# to check answers.
/// </summary>
public sealed class Mlp
{
    public Mlp(int inputs, int hidden, int outputs, int seed)
    {
        var random = new Random(seed);
        float Next() => (float)(random.NextDouble() * 2 - 1);
        (Inputs, Hidden, Outputs) = (inputs, hidden, outputs);
        W1 = Enumerable.Range(0, inputs * hidden).Select(_ => Next()).ToArray();
        B1 = Enumerable.Range(0, hidden).Select(_ => Next()).ToArray();
        W2 = Enumerable.Range(0, hidden * outputs).Select(_ => Next()).ToArray();
        B2 = Enumerable.Range(0, outputs).Select(_ => Next()).ToArray();
    }

    public int Inputs { get; }
    public int Hidden { get; }
    public int Outputs { get; }
    public float[] W1 { get; }
    public float[] B1 { get; }
    public float[] W2 { get; }
    public float[] B2 { get; }

    /// <summary>y = relu(x W1 + b1) W2 + b2 for each row of x.</summary>
    public float[] Compute(float[] x)
    {
        var rows = x.Length / Inputs;
        var y = new float[rows * Outputs];
        var h = new float[Hidden];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < Hidden; j++)
            {
                var sum = B1[j];
                for (var i = 0; i < Inputs; i++)
                    sum += x[r * Inputs + i] * W1[i * Hidden + j];
                h[j] = Math.Max(0, sum);
            }
            for (var k = 0; k < Outputs; k++)
            {
                var sum = B2[k];
                for (var j = 0; j < Hidden; j++)
                    sum += h[j] * W2[j * Outputs + k];
                y[r * Outputs + k] = sum;
            }
        }
        return y;
    }

    /// <summary>The model as ONNX (IR 8, opset 13): input "input" [batch, inputs] FP32, output "output" [batch, outputs].</summary>
    public byte[] ToOnnx()
    {
        var graph = new Proto()
            .Message(1, Node(["input", "W1"], ["mm1"], "MatMul"))
            .Message(1, Node(["mm1", "B1"], ["add1"], "Add"))
            .Message(1, Node(["add1"], ["relu"], "Relu"))
            .Message(1, Node(["relu", "W2"], ["mm2"], "MatMul"))
            .Message(1, Node(["mm2", "B2"], ["output"], "Add"))
            .String(2, "mlp")
            .Message(5, Initializer("W1", [Inputs, Hidden], W1))
            .Message(5, Initializer("B1", [Hidden], B1))
            .Message(5, Initializer("W2", [Hidden, Outputs], W2))
            .Message(5, Initializer("B2", [Outputs], B2))
            .Message(11, ValueInfo("input", Inputs))
            .Message(12, ValueInfo("output", Outputs));
        return new Proto()
            .Varint(1, 8)
            .String(2, "slipway-tests")
            .Message(7, graph)
            .Message(8, new Proto().String(1, "").Varint(2, 13))
            .ToArray();
    }

    private static Proto Node(string[] inputs, string[] outputs, string op)
    {
        var node = new Proto();
        foreach (var i in inputs)
            node.String(1, i);
        foreach (var o in outputs)
            node.String(2, o);
        return node.String(3, op + "_" + outputs[0]).String(4, op);
    }

    private static Proto Initializer(string name, long[] dims, float[] values)
    {
        var tensor = new Proto();
        foreach (var d in dims)
            tensor.Varint(1, (ulong)d);
        var raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        return tensor.Varint(2, 1).String(8, name).Bytes(9, raw);
    }

    private static Proto ValueInfo(string name, int width)
    {
        var shape = new Proto()
            .Message(1, new Proto().String(2, "batch"))
            .Message(1, new Proto().Varint(1, (ulong)width));
        var tensorType = new Proto().Varint(1, 1).Message(2, shape);
        return new Proto().String(1, name).Message(2, new Proto().Message(1, tensorType));
    }

    /// <summary>Protocol-buffer fields, appended in order.</summary>
    private sealed class Proto
    {
        private readonly ArrayBufferWriter<byte> _bytes = new();

        public Proto Varint(int field, ulong value)
        {
            Raw((ulong)(field << 3));
            Raw(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Bytes(int field, byte[] value)
        {
            Raw((ulong)((field << 3) | 2));
            Raw((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.WrittenSpan.ToArray();

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.Write([(byte)(value | 0x80)]);
                value >>= 7;
            }
            _bytes.Write([(byte)value]);
        }
    }
}
