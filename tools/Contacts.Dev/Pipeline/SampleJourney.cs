namespace Contacts.Dev.Pipeline;

/// <summary>
/// The journey a newcomer is shown: a phone call from a number, a web form carrying that number and an email address,
/// then an email from that address. Three channels, one person, linked only through shared identifiers.
/// </summary>
public static class SampleJourney
{
    public static IReadOnlyList<object> Events(DateTimeOffset now, string phone = "+44 20 7946 0958", string email = "Ana.Lima@example.com",
        string idPrefix = "demo")
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        return
        [
            new
            {
                source = "amazon-connect", sourceEventId = $"{idPrefix}-call-{run}", contactId = $"{idPrefix}-call-{run}",
                channel = "voice", direction = "inbound", kind = "ended", occurredAt = now.AddDays(-2),
                identifiers = new { phone }, topic = "billing",
            },
            new
            {
                source = "web", sourceEventId = $"{idPrefix}-form-{run}", contactId = $"{idPrefix}-form-{run}",
                channel = "web_form", direction = "inbound", kind = "message", occurredAt = now.AddDays(-1),
                identifiers = new { phone, email }, topic = "billing",
            },
            new
            {
                source = "zendesk", sourceEventId = $"{idPrefix}-mail-{run}", contactId = $"{idPrefix}-mail-{run}",
                channel = "email", direction = "inbound", kind = "message", occurredAt = now.AddHours(-1),
                identifiers = new { email }, topic = "billing",
            },
        ];
    }
}
