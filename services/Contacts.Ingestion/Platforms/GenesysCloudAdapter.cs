using System.Text.Json;
using Contacts.Ingestion.Events;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Genesys Cloud conversation detail events, as the EventBridge integration delivers them or bare: topics
/// v2.detail.events.conversation.{id}.customer.start / .customer.end (the contact), .acd.end (the queue: wait, abandon),
/// .user.end (an agent's part: hold, talk, transfer) and .acw (the agent's wrap-up: its notes are the summary). Genesys
/// does not sign these; the API key authenticates.
/// </summary>
public sealed class GenesysCloudAdapter : IPlatformAdapter
{
    public string Name => "genesys-cloud";

    public bool RequiresSecret => false;

    public string? Verify(PlatformRequest request, string? secret) => null;

    public PlatformMapping Map(PlatformRequest request)
    {
        var root = PlatformPayload.ParseJson(request);
        // EventBridge wraps the Genesys notification in "detail"; a direct delivery is the notification itself.
        var notification = root.Object("detail").ValueKind == JsonValueKind.Object ? root.Object("detail") : root;
        var topic = notification.String("topicName") ?? root.String("detail-type") ?? "";
        var body = notification.Object("eventBody");
        var disconnect = body.String("disconnectType") ?? "";
        var transfer = disconnect.EndsWith("TRANSFER", StringComparison.Ordinal);
        var acdOutcome = body.String("acdOutcome");
        var (kind, step) = topic switch
        {
            _ when topic.EndsWith(".customer.start", StringComparison.Ordinal) => ("started", null),
            _ when topic.EndsWith(".customer.end", StringComparison.Ordinal) => ("ended", null),
            // Left the queue: abandoned ends the contact; answered or flowed out, it goes on (the queue hands over to an agent
            // with a TRANSFER disconnect, which is routing, not a transfer the customer lives through).
            _ when topic.EndsWith(".acd.end", StringComparison.Ordinal) => (acdOutcome == "ABANDON" ? "ended" : "started", "acd.end"),
            // An agent's part ended: by a transfer, or with the contact.
            _ when topic.EndsWith(".user.end", StringComparison.Ordinal) => (transfer ? "transferred" : "ended", "user.end"),
            // An agent finished wrap-up (after-call work). A note on the contact, not its end: as "ended" it would move the
            // contact's end to when the agent was done writing, or end a contact whose first agent wrapped up after a transfer.
            _ when topic.EndsWith(".acw", StringComparison.Ordinal) => ("message", "acw"),
            _ => ((string?)null, (string?)null),
        };
        if (kind is null)
        {
            return PlatformMapping.Ignore($"topic '{topic}' is not tracked");
        }
        var conversationId = body.Required("conversationId", "eventBody.conversationId");
        var eventTime = body.WholeNumber("eventTime") is { } ms
            ? PlatformPayload.FromUnix(ms, milliseconds: true)
                ?? throw new PlatformFormatException("eventBody.eventTime", "must be epoch milliseconds within years 0001 to 9999")
            : throw new PlatformFormatException("eventBody.eventTime", "is required, in epoch milliseconds");
        var mediaType = body.String("mediaType");
        var messageType = body.String("messageType")?.ToLowerInvariant();
        var channel = mediaType switch
        {
            "VOICE" or "CALLBACK" => "voice",
            "CHAT" => "chat",
            "EMAIL" => "email",
            "MESSAGE" when messageType is null or "sms" => "sms",
            "MESSAGE" => "social",
            var other => other?.ToLowerInvariant(),
        };
        var direction = body.String("direction")?.ToLowerInvariant() == "outbound" ? "outbound" : "inbound";
        // The customer's address is ani on inbound calls, dnis on outbound ones; tel: URIs carry the number.
        var customerAddress = direction == "inbound" ? body.String("ani") ?? body.String("addressFrom") : body.String("dnis") ?? body.String("addressTo");
        var address = customerAddress?.Replace("tel:", "", StringComparison.OrdinalIgnoreCase).Replace("sip:", "", StringComparison.OrdinalIgnoreCase);
        var identifiers = channel == "email"
            ? new IdentifiersV1 { Email = address, CrmId = body.String("externalContactId") }
            : address is { Length: > 0 } && address.TrimStart('+').All(c => char.IsAsciiDigit(c) || c is ' ' or '-')
                ? new IdentifiersV1 { Phone = address, CrmId = body.String("externalContactId") }
                : new IdentifiersV1 { Handle = address is { Length: > 0 } ? $"genesys:{address}" : null, CrmId = body.String("externalContactId") };
        if (identifiers is { Email: null, Phone: null, Handle: null, CrmId: null })
        {
            identifiers = new IdentifiersV1 { Handle = $"genesys-conversation:{conversationId}" };
        }
        return PlatformMapping.Of(new ContactEventV1
        {
            Source = Name,
            SourceEventId = root.String("id") ?? $"{conversationId}:{body.String("participantId")}:{step ?? kind}:{eventTime.ToUnixTimeMilliseconds()}",
            ContactId = conversationId,
            Channel = channel,
            Direction = direction,
            Kind = kind,
            OccurredAt = eventTime,
            Identifiers = identifiers,
            Measures = step switch
            {
                "acd.end" => new MeasuresV1
                {
                    QueueWaitSeconds = Seconds(body, "connectedDurationMs"),
                    Abandoned = acdOutcome == "ABANDON" ? true : null,
                },
                "user.end" => new MeasuresV1
                {
                    HoldSeconds = Seconds(body, "heldDurationMs"),
                    HandleSeconds = Seconds(body, "interactingDurationMs") is { } talk ? talk + (Seconds(body, "heldDurationMs") ?? 0) : null,
                    Transfers = transfer ? 1 : null,
                },
                _ => null,
            },
            // The agent's own account of the contact (AcwDetailEventTopicAfterCallWorkEvent.wrapupNotes). Its wrapupCode is the
            // id of a wrap-up code each organisation names for itself, so it says no outcome we could read without a table
            // per tenant; it is not mapped.
            Summary = step == "acw" ? PlatformPayload.Summary(body.String("wrapupNotes")) : null,
        });
    }

    private static double? Seconds(JsonElement body, string milliseconds) =>
        body.WholeNumber(milliseconds) is { } ms and >= 0 ? ms / 1000.0 : null;
}
