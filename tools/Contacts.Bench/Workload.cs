using System.Globalization;
using System.Text.Json;

namespace Contacts.Bench;

/// <summary>
/// Customers who come back over several channels, their identifiers arriving piecemeal: a call gives the phone, an
/// email the address (a second customer until a web form carries both and identity merges them), a chat a handle
/// (merged again when a social message carries it with the email). Enough repeats and channel switches to raise alerts.
/// </summary>
public sealed class Workload(string phase, int firstCustomer, int customers, int contactsPerCustomer, DateTimeOffset now)
{
    private static readonly (string Channel, string Kind, string[] Identifiers)[] Pattern =
    [
        ("voice", "ended", ["phone"]),
        ("email", "message", ["email"]),
        ("web_form", "message", ["phone", "email"]),
        ("chat", "message", ["handle"]),
        ("social", "message", ["handle", "email"]),
        ("sms", "message", ["phone"]),
        ("voicemail", "ended", ["phone"]),
        ("ivr", "ended", ["accountNumber", "phone"]),
    ];

    public string Phase => phase;
    public int Count => customers * contactsPerCustomer;

    /// <summary>The source event ids of this phase share this prefix, so the services' records can be found again.</summary>
    public string SourceEventIdPrefix => $"{phase}-";

    /// <summary>Round by round (every customer's first contact, then every second one...), as returning customers arrive.</summary>
    public object Event(int index)
    {
        var round = index / customers;
        var customer = firstCustomer + index % customers;
        var (channel, kind, identifiers) = Pattern[round % Pattern.Length];
        var occurredAt = now.AddMinutes(-10 * (contactsPerCustomer - round));
        var ids = new Dictionary<string, string>();
        foreach (var type in identifiers)
        {
            ids[type] = type switch
            {
                // UK mobile numbers (+44 7xxx xxxxxx): possible numbers for their region, unique per customer.
                "phone" => "+447" + (400_000_000 + customer).ToString(CultureInfo.InvariantCulture),
                "email" => $"customer{customer}@bench.example",
                "handle" => $"@bench_{customer}",
                _ => $"ACC{customer:D9}",
            };
        }
        return new
        {
            source = "bench",
            sourceEventId = $"{phase}-{customer}-{round}",
            contactId = $"{phase}-{customer}-{round}",
            channel,
            direction = "inbound",
            kind,
            occurredAt,
            identifiers = ids,
            topic = "billing",
        };
    }

    public string Json(int index) => JsonSerializer.Serialize(Event(index));

    public string BatchJson(int first, int count) =>
        JsonSerializer.Serialize(new { events = Enumerable.Range(first, count).Select(Event) });
}
