using System.Text.Json;
using Contacts.Ingestion.Events;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Amazon Connect contact events as EventBridge delivers them ("detail-type": "Amazon Connect Contact Event"). EventBridge
/// API destinations authenticate with our API key and do not sign, so there is no signature to check.
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
        var eventType = detail.String("eventType");
        var method = detail.String("initiationMethod");
        var kind = eventType switch
        {
            "INITIATED" when method is "TRANSFER" or "QUEUE_TRANSFER" => "transferred",
            "INITIATED" => "started",
            "DISCONNECTED" or "COMPLETED" => "ended",
            _ => null,
        };
        if (kind is null)
        {
            return PlatformMapping.Ignore($"eventType '{eventType}' is not tracked");
        }
        var contactId = detail.Required("contactId", "detail.contactId");
        var channel = detail.String("channel") switch
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
        var enqueued = queue.Time("enqueueTimestamp");
        var connected = agent.Time("connectedToAgentTimestamp");
        return PlatformMapping.Of(new ContactEventV1
        {
            Source = Name,
            SourceEventId = root.Required("id", "id"),
            ContactId = contactId,
            Channel = channel,
            Direction = method is "OUTBOUND" or "API" or "CALLBACK" ? "outbound" : "inbound",
            Kind = kind,
            OccurredAt = root.Time("time") ?? detail.Time("disconnectTimestamp") ?? detail.Time("initiationTimestamp"),
            InitialContactId = initial,
            PreviousContactId = detail.String("previousContactId"),
            StartedAt = detail.Time("initiationTimestamp"),
            EndedAt = detail.Time("disconnectTimestamp"),
            Identifiers = customer.String("type") switch
            {
                "TELEPHONE_NUMBER" when address is not null => new IdentifiersV1 { Phone = address },
                "EMAIL_ADDRESS" when address is not null => new IdentifiersV1 { Email = address },
                // Without the customer's address, the chain of transfers is still one customer.
                _ => new IdentifiersV1 { Handle = $"amazon-connect:{initial ?? contactId}" },
            },
            Measures = kind == "ended" && enqueued is { } q
                ? new MeasuresV1
                {
                    QueueWaitSeconds = connected is { } c ? Math.Max(0, (c - q).TotalSeconds) : null,
                    Abandoned = connected is null,
                }
                : null,
        });
    }
}
