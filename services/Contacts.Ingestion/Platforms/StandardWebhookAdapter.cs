using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Contacts.Ingestion.Events;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Any platform that can send our canonical event, signed per the Standard Webhooks spec: webhook-id, webhook-timestamp
/// and webhook-signature "v1,&lt;base64 HMAC-SHA256 of id.timestamp.body&gt;" keyed by the "whsec_" secret.
/// </summary>
public sealed class StandardWebhookAdapter : IPlatformAdapter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

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
        var expected = Sign(secret!, id, timestamp!, request.Body);
        return signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(s => PlatformPayload.SameSignature(s, expected))
            ? null
            : "webhook-signature: no v1 signature matches the id, timestamp and body signed with this tenant's secret";
    }

    public static string Sign(string secret, string id, string timestamp, byte[] body)
    {
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret[6..] : secret);
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, (byte[])[.. Encoding.UTF8.GetBytes($"{id}.{timestamp}."), .. body]));
    }

    public PlatformMapping Map(PlatformRequest request)
    {
        var root = PlatformPayload.ParseJson(request);
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
