using System.Security.Cryptography;
using System.Text;

namespace Contacts.ServiceDefaults.Webhooks;

/// <summary>
/// Standard Webhooks signatures, the one copy everyone uses (alerting signs, ingestion and the stand-in CRM verify):
/// "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the key is the base64 after "whsec_".
/// No Standard Webhooks package is served to us; this is the whole of the scheme.
/// </summary>
public static class StandardWebhooks
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    public static string Sign(string secret, string id, string timestamp, ReadOnlySpan<byte> body)
    {
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
    }

    public static string Sign(string secret, string id, long timestamp, string body) =>
        Sign(secret, id, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes(body));

    /// <summary>Whether any signature in a webhook-signature header (space-separated) matches, compared in constant time.</summary>
    public static bool Verify(string secret, string id, string timestamp, ReadOnlySpan<byte> body, string signatureHeader)
    {
        var expected = Encoding.ASCII.GetBytes(Sign(secret, id, timestamp, body));
        foreach (var candidate in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(candidate), expected))
            {
                return true;
            }
        }
        return false;
    }

    public static bool Verify(string secret, string id, long timestamp, string body, string signatureHeader) =>
        Verify(secret, id, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes(body), signatureHeader);

    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
}
