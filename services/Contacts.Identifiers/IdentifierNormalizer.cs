using System.Globalization;
using PhoneNumbers;

namespace Contacts.Identifiers;

/// <summary>The identifier kinds we match on, as carried in ContactIdentifier.Type.</summary>
public static class IdentifierTypes
{
    public const string Phone = "phone";
    public const string Email = "email";
    public const string CrmId = "crm_id";
    public const string AccountNumber = "account_number";
    public const string Handle = "handle";
    public const string DeviceId = "device_id";

    public static readonly IReadOnlyList<string> All = [Phone, Email, CrmId, AccountNumber, Handle, DeviceId];

    /// <summary>The public (JSON, query string) name of each type.</summary>
    public static readonly IReadOnlyDictionary<string, string> PublicNames = new Dictionary<string, string>
    {
        [Phone] = "phone", [Email] = "email", [CrmId] = "crmId", [AccountNumber] = "accountNumber", [Handle] = "handle", [DeviceId] = "deviceId",
    };

    public static string PublicName(string type) => PublicNames.TryGetValue(type, out var name) ? name : type;

    public static string? FromPublicName(string name) => PublicNames.FirstOrDefault(p => p.Value == name).Key;
}

/// <summary>
/// Turns identifiers into the one form they are matched on: phone to E.164 (libphonenumber), email trimmed, lower-cased
/// and its domain in ASCII (IDNA), others trimmed. Returns the normalised value, or null with the rule that was broken.
/// A phone number in national format cannot be placed without a region: it is checked to be a possible number somewhere
/// and kept as its digits (no '+'), and identity resolves it with the tenant's default region (<see cref="PhoneInRegion"/>).
/// </summary>
public static class IdentifierNormalizer
{
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();
    private static readonly Lazy<string[]> Regions = new(() => [.. Phones.GetSupportedRegions().Order(StringComparer.Ordinal)]);
    private static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true };

    public static (string? Value, string? Error) Normalize(string type, string raw) => type switch
    {
        IdentifierTypes.Phone => Phone(raw),
        IdentifierTypes.Email => Email(raw),
        _ => Opaque(raw),
    };

    /// <summary>True for a phone value that still needs a region (national format, as ingestion carries it).</summary>
    public static bool IsNationalPhone(string value) => !value.StartsWith('+');

    /// <summary>
    /// International numbers ('+' or '00' then the country code) become E.164 when possible for their country; national
    /// ones must be possible in at least one region and are kept as digits for identity to place with the tenant's region.
    /// </summary>
    public static (string? Value, string? Error) Phone(string raw)
    {
        var trimmed = raw.Trim();
        for (var i = 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            if (!(char.IsAsciiDigit(c) || c is ' ' or '-' or '.' or '(' or ')' or '/' || (c == '+' && i == 0)))
            {
                return (null, $"must be a phone number such as +14155550101 or (415) 555-0101; '{c}' is not allowed");
            }
        }
        var digits = new string([.. trimmed.Where(char.IsAsciiDigit)]);
        if (digits.Length == 0)
        {
            return (null, "must be a phone number such as +14155550101 or (415) 555-0101");
        }
        var international = trimmed.StartsWith('+') || digits.StartsWith("00", StringComparison.Ordinal);
        if (!international)
        {
            return digits.Length is >= 4 and <= 17 && Regions.Value.Any(r => IsPossible(digits, r))
                ? (digits, null)
                : (null, "must be a possible phone number: this national number has a length no region uses");
        }
        var e164 = "+" + (trimmed.StartsWith('+') ? digits : digits[2..]);
        if (e164.Length < 3 || e164[1] == '0')
        {
            return (null, "must start with a country code (not 0) after the + or 00");
        }
        return ToE164(e164, "ZZ", out var value)
            ? (value, null)
            : (null, "must be a possible phone number for its country code (the number of digits does not fit that country)");
    }

    /// <summary>Places a phone value (E.164 or national digits) with the tenant's default region; null region leaves national numbers unplaced.</summary>
    public static (string? Value, string? Error) PhoneInRegion(string value, string? region)
    {
        if (!IsNationalPhone(value))
        {
            return (value, null);
        }
        if (region is null)
        {
            return (null, "is in national format and this tenant has no defaultRegion (PUT /v1/settings/identity)");
        }
        return ToE164(value, region, out var e164)
            ? (e164, null)
            : (null, $"must be a possible phone number in the default region {region}");
    }

    /// <summary>What a lookup does: the ingestion rules, then the tenant's region.</summary>
    public static (string? Value, string? Error) PhoneForTenant(string raw, string? region)
    {
        var (value, error) = Phone(raw);
        return error is not null ? (null, error) : PhoneInRegion(value!, region);
    }

    public static bool IsSupportedRegion(string region) => Phones.GetSupportedRegions().Contains(region);

    private static bool IsPossible(string digits, string region)
    {
        try
        {
            return Phones.IsPossibleNumber(Phones.Parse(digits, region));
        }
        catch (NumberParseException)
        {
            return false;
        }
    }

    private static bool ToE164(string number, string region, out string? e164)
    {
        e164 = null;
        try
        {
            var parsed = Phones.Parse(number, region);
            if (!Phones.IsPossibleNumber(parsed))
            {
                return false;
            }
            e164 = Phones.Format(parsed, PhoneNumberFormat.E164);
            return true;
        }
        catch (NumberParseException)
        {
            return false;
        }
    }

    /// <summary>Trimmed and lower-cased; an internationalised domain in its ASCII (IDNA) form; mixed-script domain labels refused.</summary>
    public static (string? Value, string? Error) Email(string raw)
    {
        var value = raw.Trim();
        var at = value.IndexOf('@');
        if (value.Length > 254 || at <= 0 || at != value.LastIndexOf('@') || at > 64)
        {
            return (null, "must be an email address with one '@', such as ana@example.com");
        }
        if (value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or ',' or ';' or '"'))
        {
            return (null, "must not contain spaces, quotes, brackets, commas or semicolons");
        }
        var local = value[..at].ToLowerInvariant();
        var domain = value[(at + 1)..];
        if (domain.Length < 3 || !domain.Contains('.') || domain.StartsWith('.') || domain.EndsWith('.') || domain.Contains(".."))
        {
            return (null, "must have a domain with a dot after the '@', such as example.com");
        }
        string ascii, unicode;
        try
        {
            ascii = Idn.GetAscii(domain.ToLowerInvariant());
            unicode = Idn.GetUnicode(ascii);
        }
        catch (ArgumentException)
        {
            return (null, "must have a valid domain name (IDNA): letters, digits and hyphens in each label");
        }
        if (unicode.Split('.').FirstOrDefault(DomainScripts.IsMixed) is not null)
        {
            return (null, "must not mix scripts within a domain label (such as a Cyrillic letter in a Latin name)");
        }
        return ($"{local}@{ascii}", null);
    }

    private static (string? Value, string? Error) Opaque(string raw)
    {
        var value = raw.Trim();
        if (value.Length == 0)
        {
            return (null, "must not be blank");
        }
        if (value.Length > 200)
        {
            return (null, "must be at most 200 characters");
        }
        return value.Any(char.IsControl) ? (null, "must not contain control characters") : (value, null);
    }
}
