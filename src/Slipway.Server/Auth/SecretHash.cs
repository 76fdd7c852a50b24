using System.Security.Cryptography;
using System.Text;

namespace Slipway.Server.Auth;

/// <summary>
/// Secret keys are random 256-bit strings, so a salted SHA-256 is as strong as a slow hash here and keeps
/// auth.login fast; secrets themselves are never stored or logged.
/// </summary>
public static class SecretHash
{
    public static string Create(string secret)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        return Convert.ToHexStringLower(salt) + ":" + Convert.ToHexStringLower(Hash(salt, secret));
    }

    public static bool Matches(string stored, string secret)
    {
        var colon = stored.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
            return false;
        var salt = Convert.FromHexString(stored.AsSpan(0, colon));
        var expected = Convert.FromHexString(stored.AsSpan(colon + 1));
        return CryptographicOperations.FixedTimeEquals(expected, Hash(salt, secret));
    }

    /// <summary>A new random key of the given length, in letters and digits, like the reference server's.</summary>
    public static string NewKey(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";
        return RandomNumberGenerator.GetString(alphabet, length);
    }

    private static byte[] Hash(byte[] salt, string secret) => SHA256.HashData([.. salt, .. Encoding.UTF8.GetBytes(secret)]);
}
