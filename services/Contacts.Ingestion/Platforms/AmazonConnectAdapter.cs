using System.Text.Json;
using Contacts.Ingestion.Events;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Amazon Connect contact events as EventBridge delivers them ("detail-type": "Amazon Connect Contact Event"): INITIATED
/// (a transfer when initiationMethod is TRANSFER or QUEUE_TRANSFER), CONNECTED_TO_SYSTEM, QUEUED, CONNECTED_TO_AGENT,
/// DISCONNECTED and COMPLETED; CONTACT_DATA_UPDATED and newer types are ignored. EventBridge API destinations
/// authenticate with our API key and do not sign, so there is no signature to check. Summary, outcome and promise stay
/// unset: contact events carry no description, name, attribute values or disposition (those are in the contact's API
/// record, which this adapter does not call); CONTACT_DATA_UPDATED names the properties that changed, not their values.
/// </summary>
public sealed class AmazonConnectAdapter : IPlatformAdapter
{
    public string Name => "amazon-connect";

    public bool RequiresSecret => false;

    public string? Verify(PlatformRequest request, string? secret) => null;

    public PlatformMapping Map(PlatformRequest request)
    {
        var root = PlatformPayload.ParseJson(request);
        if (root.String("detail-type") != "Amazon Connect Contact Event")
        {
            return PlatformMapping.Ignore($"detail-type '{root.String("detail-type")}' is not a contact event");
        }
        var detail = root.Object("detail");
        var eventType = detail.String("eventType")?.ToUpperInvariant();
        var method = detail.String("initiationMethod")?.ToUpperInvariant();
        var kind = eventType switch
        {
            "INITIATED" when method is "TRANSFER" or "QUEUE_TRANSFER" => "transferred",
            // Each step of the contact is a report on it; queue wait is known from CONNECTED_TO_AGENT on.
            "INITIATED" or "CONNECTED_TO_SYSTEM" or "QUEUED" or "CONNECTED_TO_AGENT" => "started",
            "DISCONNECTED" or "COMPLETED" => "ended",
            _ => null,
        };
        if (kind is null)
        {
            return PlatformMapping.Ignore($"eventType '{eventType}' is not tracked");
        }
        var contactId = detail.Required("contactId", "detail.contactId");
        var channel = detail.String("channel")?.ToUpperInvariant() switch
        {
            "VOICE" => "voice",
            "CHAT" => "chat",
            "EMAIL" => "email",
            "TASK" => "web_form",
            var other => other?.ToLowerInvariant(),
        };
        var customer = detail.Object("customerEndpoint");
        var address = customer.String("address");
        var initial = detail.String("initialContactId");
        var queue = detail.Object("queueInfo");
        var agent = detail.Object("agentInfo");
        var enqueued = queue.Time("enqueueTimestamp", "detail.queueInfo.enqueueTimestamp");
        var connected = agent.Time("connectedToAgentTimestamp", "detail.agentInfo.connectedToAgentTimestamp");
        var ended = kind == "ended";
        var disconnected = detail.Time("disconnectTimestamp", "detail.disconnectTimestamp");
        var outbound = method is "OUTBOUND" or "API" or "CALLBACK" or "AGENT_REPLY" or "CAMPAIGN";
        // Every event of a chain carries the chain's own handle, and the customer's address where the event has it: one
        // event with both links the chain to the customer known by that address, so the events without it join them too.
        var chain = $"amazon-connect:{(string.IsNullOrEmpty(initial) ? contactId : initial)}";
        return PlatformMapping.Of(new ContactEventV1
        {
            Source = Name,
            SourceEventId = root.Required("id", "id"),
            ContactId = contactId,
            Channel = channel,
            Direction = outbound ? "outbound" : "inbound",
            Kind = kind,
            OccurredAt = root.Time("time", "time") ?? disconnected ?? detail.Time("initiationTimestamp", "detail.initiationTimestamp"),
            InitialContactId = initial,
            PreviousContactId = detail.String("previousContactId"),
            StartedAt = detail.Time("initiationTimestamp", "detail.initiationTimestamp"),
            EndedAt = disconnected,
            Identifiers = customer.String("type") switch
            {
                "TELEPHONE_NUMBER" when address is { Length: > 0 } => new IdentifiersV1 { Phone = address, Handle = chain },
                "EMAIL_ADDRESS" when address is { Length: > 0 } => new IdentifiersV1 { Email = address, Handle = chain },
                _ => new IdentifiersV1 { Handle = chain },
            },
            Measures = enqueued is { } q && (connected is not null || ended)
                ? new MeasuresV1
                {
                    // Until an agent answered; for a contact that left the queue unanswered, until it ended (both timestamps are there).
                    QueueWaitSeconds = (connected ?? (ended && !outbound ? disconnected : null)) is { } left ? Math.Max(0, (left - q).TotalSeconds) : null,
                    // Queued and gone before an agent answered: abandoned (an outbound or callback leg is not the customer's to abandon).
                    Abandoned = ended ? connected is null && !outbound : null,
                    HoldSeconds = HoldSeconds(agent),
                }
                : HoldSeconds(agent) is { } hold ? new MeasuresV1 { HoldSeconds = hold } : null,
        });
    }

    /// <summary>agentInfo.agentInitiatedHoldDuration, in whole seconds, where Connect reports it (on the ending events).</summary>
    private static double? HoldSeconds(JsonElement agent) =>
        agent.WholeNumber("agentInitiatedHoldDuration") is { } seconds and >= 0 ? seconds : null;
}
