using System.Security.Cryptography;
using System.Text;
using Contacts.Ingestion.Events;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Zendesk event webhooks (type "zen:event-type:ticket.*"), signed with X-Zendesk-Webhook-Signature =
/// Base64(HMAC-SHA256(signing secret, X-Zendesk-Webhook-Signature-Timestamp + body)). The ticket's subject is the summary,
/// and a solved or closed ticket's outcome is resolved; Zendesk publishes nothing that is a promise.
/// </summary>
public sealed class ZendeskAdapter : IPlatformAdapter
{
    public const string SignatureHeader = "X-Zendesk-Webhook-Signature";
    public const string TimestampHeader = "X-Zendesk-Webhook-Signature-Timestamp";

    public string Name => "zendesk";

    public bool RequiresSecret => true;

    public string? Verify(PlatformRequest request, string? secret)
    {
        var sent = request.Header(SignatureHeader);
        if (sent is null)
        {
            return $"{SignatureHeader}: is required";
        }
        var timestamp = request.Header(TimestampHeader);
        if (PlatformPayload.CheckTimestamp(TimestampHeader, timestamp, request.ReceivedAt, iso8601: true) is { } stale)
        {
            return stale;
        }
        return PlatformPayload.SameSignature(sent, Sign(secret!, timestamp!, request.Body))
            ? null
            : $"{SignatureHeader}: does not match the timestamp and body signed with this tenant's secret";
    }

    public static string Sign(string secret, string timestamp, byte[] body) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), (byte[])[.. Encoding.UTF8.GetBytes(timestamp), .. body]));

    public PlatformMapping Map(PlatformRequest request)
    {
        var root = PlatformPayload.ParseJson(request);
        var type = root.String("type") ?? "";
        var detail = root.Object("detail");
        var status = detail.String("status")?.ToUpperInvariant();
        var kind = type switch
        {
            "zen:event-type:ticket.created" => "started",
            "zen:event-type:ticket.comment_added" => "message",
            "zen:event-type:ticket.status_changed" when status is "SOLVED" or "CLOSED" => "ended",
            _ => null,
        };
        if (kind is null)
        {
            return PlatformMapping.Ignore($"type '{type}'{(status is null ? "" : $" with status {status}")} is not tracked");
        }
        var ticketId = detail.Required("id", "detail.id");
        // Not every ticket event carries the requester; the ticket then stands for its customer until one is known.
        var requester = detail.String("requester_id");
        var channel = detail.Object("via").String("channel")?.ToLowerInvariant() switch
        {
            "email" or "mail" => "email",
            "voice" or "phone" => "voice",
            "chat" or "native_messaging" or "messaging" => "chat",
            "sms" => "sms",
            "facebook" or "twitter" or "instagram" or "whatsapp" or "line" or "wechat" => "social",
            _ => "web_form",
        };
        return PlatformMapping.Of(new ContactEventV1
        {
            Source = Name,
            SourceEventId = root.Required("id", "id"),
            ContactId = $"ticket-{ticketId}",
            Channel = channel,
            Direction = "inbound",
            Kind = kind,
            OccurredAt = root.Time("time", "time") ?? detail.Time("updated_at", "detail.updated_at"),
            Identifiers = requester is { Length: > 0 }
                ? new IdentifiersV1 { CrmId = $"zendesk-user:{requester}" }
                : new IdentifiersV1 { Handle = $"zendesk-ticket:{ticketId}" },
            Topic = detail.String("subject") is { Length: > 0 and <= 100 } subject ? subject : null,
            Measures = kind == "ended" ? new MeasuresV1 { Resolved = status == "SOLVED" || status == "CLOSED" } : null,
            // The ticket's subject is what the contact is about, on every ticket event ("Ticket events", detail.subject).
            // Not detail.description nor a comment's body: those are the first and latest messages, raw, not a summary.
            Summary = PlatformPayload.Summary(detail.String("subject")),
            // Only solved and closed end a ticket here, and both say resolved (agreeing with measures.resolved). Pending,
            // on-hold and open tickets are still being worked: no outcome yet.
            Outcome = kind == "ended" ? "resolved" : null,
        });
    }
}
