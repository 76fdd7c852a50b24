namespace Slipway.Client.Datasets;

/// <summary>Dataset versions.</summary>
public sealed class DatasetsClient
{
    private readonly SlipwayClient _client;

    internal DatasetsClient(SlipwayClient client) => _client = client;

    internal SlipwayClient Client => _client;
}
