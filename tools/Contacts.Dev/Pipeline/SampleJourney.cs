namespace Contacts.Dev.Pipeline;

/// <summary>
/// The journey a newcomer is shown: a phone call from a number, a web form carrying that number and an email address,
/// then an email from that address. Three channels, one person, linked only through shared identifiers. The call ends with a
/// callback promised: with brokenPromise (the demo and the compose smoke), within four hours, and it never comes (the brief
/// tells it as overdue, the ledger withdraws, an alert promise_broken is raised beside high_effort); otherwise it is due
/// tomorrow and still open, so the journey raises the high-effort alert alone.
/// </summary>
public static class SampleJourney
{
    public static IReadOnlyList<object> Events(DateTimeOffset now, string phone = "+44 20 7946 0958", string email = "Ana.Lima@example.com",
        string idPrefix = "demo", string? tag = null, bool brokenPromise = false)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        // The tag marks the summaries, so a test can search telemetry for them.
        string Said(string text) => tag is null ? text : $"{text} [{tag}]";
        return
        [
            new
            {
                source = "amazon-connect", sourceEventId = $"{idPrefix}-call-{run}", contactId = $"{idPrefix}-call-{run}",
                channel = "voice", direction = "inbound", kind = "ended", occurredAt = now.AddDays(-2),
                identifiers = new { phone }, topic = "billing",
                summary = Said("Charged twice for the October invoice; asked for a refund."), outcome = "callback_promised",
                promise = new { kind = "callback", dueAt = brokenPromise ? now.AddDays(-2).AddHours(4) : now.AddDays(1) },
            },
            new
            {
                source = "web", sourceEventId = $"{idPrefix}-form-{run}", contactId = $"{idPrefix}-form-{run}",
                channel = "web_form", direction = "inbound", kind = "message", occurredAt = now.AddDays(-1),
                identifiers = new { phone, email }, topic = "billing",
                summary = Said("Sent the invoice number and asked again about the refund."),
            },
            new
            {
                source = "zendesk", sourceEventId = $"{idPrefix}-mail-{run}", contactId = $"{idPrefix}-mail-{run}",
                channel = "email", direction = "inbound", kind = "message", occurredAt = now.AddHours(-1),
                identifiers = new { email }, topic = "billing",
                summary = Said("No refund and no callback yet; asks to cancel the contract."), outcome = "escalated",
            },
        ];
    }
}
