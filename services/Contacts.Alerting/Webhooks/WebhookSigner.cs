using System.Security.Cryptography;
using System.Text;

namespace Contacts.Alerting.Webhooks;

/// <summary>
/// Standard Webhooks signatures: "v1," + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")), where the secret is
/// the base64 after "whsec_". No Standard Webhooks package is available to us; this is the whole of the scheme.
/// </summary>
public static class WebhookSigner
{
    public static string Sign(string secret, string id, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        return "v1," + Convert.ToBase64String(mac);
    }

    /// <summary>Checks a webhook-signature header (space-separated, possibly several) in constant time.</summary>
    public static bool Verify(string secret, string id, long timestamp, string body, string signatureHeader)
    {
        var expected = Encoding.ASCII.GetBytes(Sign(secret, id, timestamp, body));
        return signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Any(candidate => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(candidate), expected));
    }

    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
}
