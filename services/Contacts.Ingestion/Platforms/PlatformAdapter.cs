using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Contacts.Ingestion.Events;
using Contacts.ServiceDefaults.Http;

namespace Contacts.Ingestion.Platforms;

/// <summary>A platform's webhook as it arrived: the URL it called (Twilio signs it), its headers and the exact body bytes.</summary>
public sealed record PlatformRequest(Uri Url, IReadOnlyDictionary<string, string> Headers, byte[] Body, string? ContentType, DateTimeOffset ReceivedAt)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) && value.Length > 0 ? value : null;

    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>The canonical events a payload maps to, or why it was ignored (an event type we do not track).</summary>
public sealed record PlatformMapping(IReadOnlyList<ContactEventV1> Events, string? Ignored)
{
    public static PlatformMapping Ignore(string why) => new([], why);

    public static PlatformMapping Of(ContactEventV1 e) => new([e], null);
}

/// <summary>The payload cannot be read at all: the field at fault and the rule it broke.</summary>
public sealed class PlatformFormatException(string field, string rule) : Exception($"{field}: {rule}")
{
    public string Field { get; } = field;
    public string Rule { get; } = rule;
}

/// <summary>One platform's native webhook: how its signature is checked and how its payload maps to canonical events.</summary>
public interface IPlatformAdapter
{
    /// <summary>The route segment: POST /v1/webhooks/{name}.</summary>
    string Name { get; }

    /// <summary>Whether the platform signs its webhooks, so a secret must be configured for it.</summary>
    bool RequiresSecret { get; }

    /// <summary>Null when the signature (and signed timestamp) is good; otherwise the header and the rule that failed.</summary>
    string? Verify(PlatformRequest request, string? secret);

    /// <summary>Maps the payload; unknown fields and unknown event types are ignored, never fatal.</summary>
    PlatformMapping Map(PlatformRequest request);
}

public static class PlatformAdapters
{
    public static IReadOnlyList<IPlatformAdapter> All { get; } =
        [new AmazonConnectAdapter(), new GenesysCloudAdapter(), new TwilioAdapter(), new ZendeskAdapter(), new StandardWebhookAdapter()];

    public static IPlatformAdapter? Find(string name) => All.FirstOrDefault(a => a.Name == name);
}

/// <summary>Shared pieces of the adapters: JSON reading with field-named errors, and signature checks.</summary>
internal static class PlatformPayload
{
    /// <summary>How far a signed timestamp may be from our clock, either way.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The payload as a JSON object. A member given twice, or text that is not Unicode anywhere in it, is refused naming the
    /// field: the signature covered the bytes, and they must mean one thing (<paramref name="ignoreCase"/> when the payload is
    /// read case-insensitively, as the canonical event is).
    /// </summary>
    public static JsonElement ParseJson(PlatformRequest request, bool ignoreCase = false)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(request.Body);
            root = document.RootElement.ValueKind == JsonValueKind.Object
                ? document.RootElement.Clone()
                : throw new PlatformFormatException("body", "must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw new PlatformFormatException("body", $"is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
        }
        if (JsonAmbiguity.Find(request.Body, ignoreCase, checkValues: true, limit: 1) is [var first])
        {
            throw new PlatformFormatException(first.Field, first.Rule);
        }
        return root;
    }

    /// <summary>A property by name, the exact spelling first, then any case: vendors' own samples mix "contactId" and "ContactId".</summary>
    public static bool TryGetField(this JsonElement element, string name, out JsonElement value)
    {
        value = default;
        if (element.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        if (element.TryGetProperty(name, out value))
        {
            return true;
        }
        foreach (var property in element.EnumerateObject())
        {
            if (property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }
        return false;
    }

    public static string? String(this JsonElement element, string name) =>
        element.TryGetField(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A whole-number field, or null when it is absent or not a JSON whole number that fits in 64 bits.</summary>
    public static long? WholeNumber(this JsonElement element, string name) =>
        element.TryGetField(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : null;

    public static string Required(this JsonElement element, string name, string path) =>
        element.String(name) is { Length: > 0 } value ? value : throw new PlatformFormatException(path, "is required");

    public static JsonElement Object(this JsonElement element, string name) =>
        element.TryGetField(name, out var value) && value.ValueKind == JsonValueKind.Object ? value : default;

    /// <summary>
    /// A date-time field: null when absent or null; one that is there but no date-time (or none that exists, such as
    /// 0001-01-01T00:00:00+01:00) is refused naming <paramref name="path"/>, rather than read as absent and replaced by another.
    /// </summary>
    public static DateTimeOffset? Time(this JsonElement element, string name, string path)
    {
        if (!element.TryGetField(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String && ParseTime(value.GetString()) is { } time
            ? time
            : throw new PlatformFormatException(path, "must be an ISO 8601 date-time, such as 2026-11-20T10:15:00Z, within years 0001 to 9999 once its offset is applied");
    }

    /// <summary>A date-time in any form DateTimeOffset reads (UTC when it names no offset), or null; never an exception.</summary>
    public static DateTimeOffset? ParseTime(string? text)
    {
        try
        {
            return DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var value) ? value : null;
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Unix seconds or milliseconds as a time, or null when they fall outside years 0001 to 9999.</summary>
    public static DateTimeOffset? FromUnix(long value, bool milliseconds)
    {
        var (min, max) = milliseconds
            ? (DateTimeOffset.MinValue.ToUnixTimeMilliseconds(), DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            : (DateTimeOffset.MinValue.ToUnixTimeSeconds(), DateTimeOffset.MaxValue.ToUnixTimeSeconds());
        return value < min || value > max ? null
            : milliseconds ? DateTimeOffset.FromUnixTimeMilliseconds(value) : DateTimeOffset.FromUnixTimeSeconds(value);
    }

    /// <summary>
    /// A vendor's text as the canonical summary: trimmed, control characters other than line breaks and tabs dropped, and
    /// cut to the canonical <see cref="ContactEventValidator.SummaryLength"/> characters, ending in an ellipsis, where it is
    /// longer. The platform, not a caller of ours, chose the length (a Zendesk subject or a Genesys wrap-up note may run to
    /// pages), so a long text is shortened rather than the whole event refused; null when nothing is left.
    /// </summary>
    public static string? Summary(string? text)
    {
        var kept = new string((text ?? "").Where(c => !char.IsControl(c) || c is '\n' or '\r' or '\t').ToArray()).Trim();
        if (kept.Length == 0)
        {
            return null;
        }
        if (kept.Length <= ContactEventValidator.SummaryLength)
        {
            return kept;
        }
        // One character is left for the ellipsis; a surrogate pair is not split.
        var cut = ContactEventValidator.SummaryLength - 1;
        if (char.IsHighSurrogate(kept[cut - 1]))
        {
            cut--;
        }
        return kept[..cut] + "\u2026";
    }

    /// <summary>Constant-time comparison of what was sent against what we computed.</summary>
    public static bool SameSignature(string? sent, string expected) =>
        sent is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent.Trim()), Encoding.UTF8.GetBytes(expected));

    /// <summary>Null when the unix-seconds timestamp in the header is within the tolerance; else the rule broken.</summary>
    public static string? CheckTimestamp(string header, string? value, DateTimeOffset now, bool iso8601 = false)
    {
        DateTimeOffset? at = iso8601
            ? ParseTime(value)
            : long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                ? FromUnix(seconds, milliseconds: false) ?? DateTimeOffset.MaxValue
                : null;
        return at switch
        {
            null => $"{header}: is required and must be a {(iso8601 ? "ISO 8601 date-time" : "unix time in seconds")}",
            var t when t < now - Tolerance => $"{header}: older than {Tolerance.TotalSeconds:0} s; the request may be a replay",
            var t when t > now + Tolerance => $"{header}: more than {Tolerance.TotalSeconds:0} s in the future",
            _ => null,
        };
    }
}
