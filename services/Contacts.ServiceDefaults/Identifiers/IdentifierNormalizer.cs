using System.Text;

namespace Contacts.ServiceDefaults.Identifiers;

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
}

/// <summary>
/// Turns identifiers into the one form they are matched on: phone to E.164, email trimmed and lower-cased, others
/// trimmed. Returns the normalised value, or null with the rule that was broken.
/// </summary>
public static class IdentifierNormalizer
{
    public static (string? Value, string? Error) Normalize(string type, string raw) => type switch
    {
        IdentifierTypes.Phone => Phone(raw),
        IdentifierTypes.Email => Email(raw),
        _ => Opaque(raw),
    };

    /// <summary>E.164: '+', a country code that does not start with 0, 8 to 15 digits in all. "00" counts as '+'.</summary>
    public static (string? Value, string? Error) Phone(string raw)
    {
        var trimmed = raw.Trim();
        var digits = new StringBuilder(16);
        var international = false;
        for (var i = 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            if (c == '+' && i == 0)
            {
                international = true;
            }
            else if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (c is not (' ' or '-' or '.' or '(' or ')' or '/'))
            {
                return (null, $"must be a phone number in international format such as +442079460958; '{c}' is not allowed");
            }
        }
        if (!international && digits.Length > 2 && digits[0] == '0' && digits[1] == '0')
        {
            digits.Remove(0, 2);
            international = true;
        }
        if (!international)
        {
            return (null, "must be in international format (E.164) starting with + and the country code, such as +442079460958");
        }
        if (digits.Length is < 8 or > 15 || digits[0] == '0')
        {
            return (null, "must have 8 to 15 digits after the +, the first being a country code (not 0)");
        }
        return ("+" + digits, null);
    }

    public static (string? Value, string? Error) Email(string raw)
    {
        var value = raw.Trim().ToLowerInvariant();
        var at = value.IndexOf('@');
        if (value.Length > 254 || at <= 0 || at != value.LastIndexOf('@') || at > 64)
        {
            return (null, "must be an email address with one '@', such as ana@example.com");
        }
        var domain = value[(at + 1)..];
        if (domain.Length < 3 || !domain.Contains('.') || domain.StartsWith('.') || domain.EndsWith('.') || domain.Contains(".."))
        {
            return (null, "must have a domain with a dot after the '@', such as example.com");
        }
        if (value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or ',' or ';' or '"'))
        {
            return (null, "must not contain spaces, quotes, brackets, commas or semicolons");
        }
        return (value, null);
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
