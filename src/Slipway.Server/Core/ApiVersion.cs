namespace Slipway.Server.Core;

/// <summary>
/// The ClearML API version the server speaks. It lives here, below Api, because tokens (Auth) carry it as well as the envelope.
/// </summary>
public static class ApiVersion
{
    public const string Actual = "2.31";
}
