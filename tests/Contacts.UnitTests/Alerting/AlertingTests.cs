using Contacts.Alerting.Alerts;
using Contacts.Alerting.Settings;
using Contacts.Alerting.Webhooks;
using Contacts.Contracts;

namespace Contacts.UnitTests;

public sealed class AlertingTests
{
    private static EffortScored Scored(int score) =>
        new(Guid.NewGuid(), "t", Guid.NewGuid(), Guid.NewGuid(), score, 3, 3, [], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);

    [Theory]
    [InlineData(59, null)]
    [InlineData(60, AlertRules.HighEffort)]
    [InlineData(95, AlertRules.HighEffort)]
    public void A_score_at_or_over_the_threshold_raises_high_effort(int score, string? reason) =>
        Assert.Equal(reason, AlertRules.ReasonFor(Scored(score), new AlertingSettings { Threshold = 60 }));

    [Fact]
    public void Signatures_match_the_standard_webhooks_reference_vector()
    {
        // The test vector published with the Standard Webhooks reference libraries.
        const string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        const string id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        const string body = """{"test": 2432232314}""";
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Sign(secret, id, 1614265330, body));
    }

    [Fact]
    public void Verification_accepts_any_listed_signature_and_rejects_a_tampered_body()
    {
        var secret = Contacts.ServiceDefaults.Webhooks.StandardWebhooks.NewSecret();
        var header = "v1,bm90LWl0 " + Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Sign(secret, "id-1", 1700000000, "{}");
        Assert.True(Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Verify(secret, "id-1", 1700000000, "{}", header));
        Assert.False(Contacts.ServiceDefaults.Webhooks.StandardWebhooks.Verify(secret, "id-1", 1700000000, "{ }", header));
    }
}
