namespace Slipway.Server.Api;

/// <summary>Who is calling: taken from a verified token.</summary>
public sealed record Identity(string User, string UserName, string Company, string Role);
