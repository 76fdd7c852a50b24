using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Amazon.Runtime;

namespace Slipway.Autoscaler.Tests.Infrastructure;

/// <summary>
/// What the stand-in cannot do: answer a chosen EC2 call with an error. It sits in the SDK client's HTTP pipeline, reads each
/// call's form (Action=RunInstances&amp;InstanceType=…&amp;SubnetId=…), and answers the first matching rule with EC2's error
/// XML, or passes the call on to moto (optionally garbling moto's answer: a launch that did happen but could not be read).
/// </summary>
public sealed class Ec2Faults : HttpClientFactory
{
    private readonly ConcurrentQueue<Rule> _rules = new();

    public ConcurrentQueue<(string Action, IReadOnlyDictionary<string, string> Form)> Calls { get; } = new();

    private sealed record Rule(Func<string, IReadOnlyDictionary<string, string>, bool> Matches, HttpStatusCode Status, string? Code, bool ForwardThenGarble);

    /// <summary>Answers calls that match with <paramref name="code"/> (e.g. InsufficientInstanceCapacity).</summary>
    public void Refuse(string action, Func<IReadOnlyDictionary<string, string>, bool> when, string code, HttpStatusCode status = HttpStatusCode.BadRequest) =>
        _rules.Enqueue(new Rule((a, f) => a == action && when(f), status, code, false));

    /// <summary>Passes matching calls on, then replaces the answer with something that is not EC2's XML.</summary>
    public void Garble(string action) => _rules.Enqueue(new Rule((a, _) => a == action, HttpStatusCode.OK, null, true));

    public void Clear() => _rules.Clear();

    public int Count(string action) => Calls.Count(c => c.Action == action);

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new Handler(this, new HttpClientHandler()));

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => true;

    private sealed class Handler(Ec2Faults faults, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(ct);
            if (request.Content is not null)
            {
                var copy = new ByteArrayContent(body);
                foreach (var header in request.Content.Headers)
                    copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
                request.Content = copy;
            }
            var form = Encoding.UTF8.GetString(body).Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=', 2))
                .GroupBy(p => WebUtility.UrlDecode(p[0]))
                .ToDictionary(g => g.Key, g => WebUtility.UrlDecode(g.First().ElementAtOrDefault(1) ?? ""), StringComparer.Ordinal);
            var action = form.GetValueOrDefault("Action") ?? "";
            faults.Calls.Enqueue((action, form));
            if (faults._rules.FirstOrDefault(r => r.Matches(action, form)) is not { } rule)
                return await base.SendAsync(request, ct);
            if (rule.ForwardThenGarble)
            {
                using var real = await base.SendAsync(request, ct);
                return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<RunInstancesResponse><reservationId>r-1", Encoding.UTF8, "text/xml") };
            }
            var xml = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{rule.Code}</Code><Message>injected by the test for {action}</Message></Error></Errors><RequestID>{Guid.NewGuid()}</RequestID></Response>";
            return new HttpResponseMessage(rule.Status) { Content = new StringContent(xml, Encoding.UTF8, "text/xml") };
        }
    }
}
