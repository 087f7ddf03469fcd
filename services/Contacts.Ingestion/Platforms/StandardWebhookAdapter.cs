using System.Text.Json;
using Contacts.Ingestion.Events;
using Contacts.ServiceDefaults.Webhooks;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Any platform that can send our canonical event, signed per the Standard Webhooks spec: webhook-id, webhook-timestamp
/// and webhook-signature "v1,&lt;base64 HMAC-SHA256 of id.timestamp.body&gt;" keyed by the "whsec_" secret.
/// </summary>
public sealed class StandardWebhookAdapter : IPlatformAdapter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict,
        AllowDuplicateProperties = false,
    };

    public string Name => "webhook";

    public bool RequiresSecret => true;

    public string? Verify(PlatformRequest request, string? secret)
    {
        var id = request.Header("webhook-id");
        var timestamp = request.Header("webhook-timestamp");
        var signatures = request.Header("webhook-signature");
        if (id is null || signatures is null)
        {
            return $"{(id is null ? "webhook-id" : "webhook-signature")}: is required";
        }
        if (PlatformPayload.CheckTimestamp("webhook-timestamp", timestamp, request.ReceivedAt) is { } stale)
        {
            return stale;
        }
        return StandardWebhooks.Verify(secret!, id, timestamp!, request.Body, signatures)
            ? null
            : "webhook-signature: no v1 signature matches the id, timestamp and body signed with this tenant's secret";
    }

    public PlatformMapping Map(PlatformRequest request)
    {
        // Read as a direct event is: names in any case, so two that differ only in case are one field given twice.
        var root = PlatformPayload.ParseJson(request, ignoreCase: true);
        if (ContactEventShape.Check(root) is { Count: > 0 } wrongTypes)
        {
            var (field, rules) = wrongTypes.First();
            throw new PlatformFormatException(field, rules[0]);
        }
        try
        {
            return PlatformMapping.Of(root.Deserialize<ContactEventV1>(Json)!);
        }
        catch (JsonException ex)
        {
            throw new PlatformFormatException(string.IsNullOrEmpty(ex.Path) ? "body" : ex.Path.TrimStart('$', '.'), "has the wrong JSON type for this field");
        }
    }
}
