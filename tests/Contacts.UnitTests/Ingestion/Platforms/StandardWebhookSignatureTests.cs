using System.Text;
using Contacts.Ingestion.Platforms;
using Contacts.ServiceDefaults.Webhooks;

namespace Contacts.UnitTests.Ingestion.Platforms;

/// <summary>The Standard Webhooks reference test vector, as the specification's own libraries test it.</summary>
public sealed class StandardWebhookSignatureTests
{
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string Id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const string Timestamp = "1614265330";
    private const string Body = """{"test": 2432232314}""";
    private const string Expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    private static PlatformRequest Request(string signature, string body = Body, double secondsAfter = 30) => new(
        new Uri("https://contacts.example.com/v1/webhooks/webhook"),
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["webhook-id"] = Id, ["webhook-timestamp"] = Timestamp, ["webhook-signature"] = signature },
        Encoding.UTF8.GetBytes(body), "application/json", DateTimeOffset.FromUnixTimeSeconds(long.Parse(Timestamp)).AddSeconds(secondsAfter));

    [Fact]
    public void Signing_the_vector_gives_its_published_signature() =>
        Assert.Equal(Expected, StandardWebhooks.Sign(Secret, Id, Timestamp, Encoding.UTF8.GetBytes(Body)));

    [Fact]
    public void The_vector_is_accepted_alone_and_beside_another_signature()
    {
        var adapter = new StandardWebhookAdapter();
        Assert.Null(adapter.Verify(Request(Expected), Secret));
        Assert.Null(adapter.Verify(Request($"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {Expected}"), Secret));
    }

    [Fact]
    public void A_changed_body_or_a_stale_timestamp_is_refused()
    {
        var adapter = new StandardWebhookAdapter();
        Assert.Contains("no v1 signature matches", adapter.Verify(Request(Expected, """{"test": 2432232315}"""), Secret));
        Assert.Contains("webhook-timestamp", adapter.Verify(Request(Expected, secondsAfter: 3600), Secret));
    }
}
