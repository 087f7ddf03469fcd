using System.Security.Cryptography;
using System.Text;
using Contacts.Ingestion.Events;
using Microsoft.AspNetCore.WebUtilities;

namespace Contacts.Ingestion.Platforms;

/// <summary>
/// Twilio voice status callbacks and messaging webhooks: form-encoded, signed with X-Twilio-Signature =
/// Base64(HMAC-SHA1(auth token, full URL as configured in Twilio + every POST parameter sorted by name, name then value)).
/// Summary, outcome and promise stay unset: a status callback says how the call went on the network, not what it was about,
/// and a message's Body is the customer's own words of one message, not an account of the contact.
/// </summary>
public sealed class TwilioAdapter : IPlatformAdapter
{
    public const string SignatureHeader = "X-Twilio-Signature";

    public string Name => "twilio";

    public bool RequiresSecret => true;

    public string? Verify(PlatformRequest request, string? secret)
    {
        var sent = request.Header(SignatureHeader);
        if (sent is null)
        {
            return $"{SignatureHeader}: is required";
        }
        var parameters = FormPairs(request);
        return SignedUrls(request.Url.OriginalString).Any(url => PlatformPayload.SameSignature(sent, Sign(secret!, url, parameters)))
            ? null
            : $"{SignatureHeader}: does not match the URL and parameters signed with this tenant's auth token";
    }

    /// <summary>
    /// The URLs Twilio may have signed for the one we were called at, as Twilio's own validators accept them: exactly as
    /// configured (scheme and host case kept, credentials kept), without its port, and with the scheme's default port added.
    /// String surgery, not System.Uri, which would lower-case the host and drop a default port.
    /// </summary>
    public static IReadOnlyList<string> SignedUrls(string url)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return [url];
        }
        var authorityStart = schemeEnd + 3;
        var authorityEnd = url.IndexOfAny(['/', '?', '#'], authorityStart) is var end and >= 0 ? end : url.Length;
        var authority = url[authorityStart..authorityEnd];
        var hostStart = authority.LastIndexOf('@') + 1;
        var hostAndPort = authority[hostStart..];
        var colon = hostAndPort.LastIndexOf(':');
        var hasPort = colon > hostAndPort.LastIndexOf(']') && colon < hostAndPort.Length - 1 && hostAndPort[(colon + 1)..].All(char.IsAsciiDigit);
        var host = hasPort ? hostAndPort[..colon] : hostAndPort;
        string With(string hostPort) => url[..authorityStart] + authority[..hostStart] + hostPort + url[authorityEnd..];
        var defaultPort = url[..schemeEnd].Equals("https", StringComparison.OrdinalIgnoreCase) ? "443" : "80";
        return new[] { url, With(host), hasPort ? url : With($"{host}:{defaultPort}") }.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Base64(HMAC-SHA1(auth token, URL + each parameter name and value, by name then value, as Twilio sorts them)).</summary>
    public static string Sign(string authToken, string url, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var data = new StringBuilder(url);
        foreach (var (key, value) in parameters.Distinct().OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal))
        {
            data.Append(key).Append(value);
        }
        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(authToken), Encoding.UTF8.GetBytes(data.ToString())));
    }

    public PlatformMapping Map(PlatformRequest request)
    {
        var form = Form(request);
        string? Get(string name) => form.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        var callSid = Get("CallSid");
        var messageSid = Get("MessageSid") ?? Get("SmsSid");
        if (callSid is null && messageSid is null)
        {
            return PlatformMapping.Ignore("neither CallSid nor MessageSid: not a call or message webhook");
        }
        var outbound = Get("Direction")?.StartsWith("outbound", StringComparison.Ordinal) == true;
        var customer = outbound ? Get("To") : Get("From");
        var whatsapp = customer?.StartsWith("whatsapp:", StringComparison.Ordinal) == true;
        var address = customer?.Replace("whatsapp:", "", StringComparison.Ordinal).Replace("client:", "", StringComparison.Ordinal);
        // Twilio sends Timestamp on status callbacks only; a message webhook happened when it arrived. One that is there but no
        // date-time (or none that exists, such as 0001-01-01T00:00:00+01:00) is refused rather than replaced by our clock.
        var occurredAt = Get("Timestamp") is not { } timestamp ? request.ReceivedAt
            : PlatformPayload.ParseTime(timestamp)
                ?? throw new PlatformFormatException("Timestamp", "must be a date-time, such as Tue, 10 Aug 2010 20:35:35 +0000, within years 0001 to 9999");

        if (callSid is not null)
        {
            var status = Get("CallStatus") ?? "unknown";
            var kind = status switch
            {
                "queued" or "initiated" or "ringing" or "in-progress" => "started",
                "completed" or "busy" or "failed" or "no-answer" or "canceled" => "ended",
                _ => null,
            };
            if (kind is null)
            {
                return PlatformMapping.Ignore($"CallStatus '{status}' is not tracked");
            }
            return PlatformMapping.Of(new ContactEventV1
            {
                Source = Name,
                SourceEventId = $"{callSid}:{status}:{Get("SequenceNumber")}",
                ContactId = callSid,
                Channel = "voice",
                Direction = outbound ? "outbound" : "inbound",
                Kind = kind,
                OccurredAt = occurredAt,
                PreviousContactId = Get("ParentCallSid"),
                Identifiers = new IdentifiersV1 { Phone = address },
                Measures = kind == "ended"
                    ? new MeasuresV1
                    {
                        HandleSeconds = double.TryParse(Get("CallDuration"), System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : null,
                        Abandoned = status is "no-answer" or "canceled" or "busy" && !outbound,
                    }
                    : null,
            });
        }
        var messageStatus = Get("MessageStatus") ?? Get("SmsStatus") ?? "received";
        return PlatformMapping.Of(new ContactEventV1
        {
            Source = Name,
            SourceEventId = $"{messageSid}:{messageStatus}",
            ContactId = messageSid,
            Channel = whatsapp ? "social" : "sms",
            Direction = outbound ? "outbound" : "inbound",
            Kind = "message",
            OccurredAt = occurredAt,
            Identifiers = new IdentifiersV1 { Phone = address },
        });
    }

    private static Dictionary<string, string> Form(PlatformRequest request) =>
        FormPairs(request).GroupBy(p => p.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);

    /// <summary>Every posted name and value, a repeated name once per value (Twilio signs each).</summary>
    private static List<KeyValuePair<string, string>> FormPairs(PlatformRequest request)
    {
        if (request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) != true)
        {
            throw new PlatformFormatException("Content-Type", "must be application/x-www-form-urlencoded, as Twilio sends");
        }
        return QueryHelpers.ParseQuery(request.Text).SelectMany(p => p.Value.Select(v => KeyValuePair.Create(p.Key, v ?? ""))).ToList();
    }
}
