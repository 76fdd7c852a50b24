namespace Slipway.Serving.Tests.Infrastructure;

public static class Floats
{
    public static byte[] Bytes(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    public static float[] From(byte[] bytes)
    {
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}

/// <summary>Compares floats within an absolute tolerance (the runtime and the C# loop sum in different orders).</summary>
public sealed class Tolerance(float epsilon) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= epsilon * Math.Max(1, Math.Abs(x));

    public int GetHashCode(float obj) => 0;
}
