using Contacts.Contracts;
using Contacts.Identifiers;
using Contacts.Identity.Settings;

namespace Contacts.Identity.Stitching;

/// <summary>An identifier of a contact as the rules see it: usable for matching, or kept on the contact only (with why).</summary>
public sealed record IdentifierUse(string Type, string Value, string? KeptOnlyBecause = null)
{
    public bool Usable => KeptOnlyBecause is null;
}

/// <summary>A tenant's settings compiled for stitching, in internal type names (crm_id, account_number, ...).</summary>
public sealed class IdentityRules
{
    private readonly Dictionary<string, int> _limits;
    private readonly Dictionary<string, int> _rank;
    private readonly Dictionary<string, string[]> _blocked;

    public IdentityRules(IdentitySettings settings)
    {
        Settings = settings;
        _limits = settings.Limits.ToDictionary(l => Internal(l.Key), l => l.Value);
        _rank = settings.Priority.Select((t, i) => (Internal(t), i)).ToDictionary(p => p.Item1, p => p.i);
        _blocked = settings.Blocked.ToDictionary(b => Internal(b.Key), b => b.Value.Select(p => p.Trim()).ToArray());
    }

    public static readonly IdentityRules Default = new(IdentitySettings.Defaults);

    public IdentitySettings Settings { get; }
    public string? DefaultRegion => Settings.DefaultRegion;

    public int LimitOf(string type) => _limits.GetValueOrDefault(type, IdentitySettings.MaxLimit);

    /// <summary>Position in the priority order: 0 is the most trusted.</summary>
    public int RankOf(string type) => _rank.GetValueOrDefault(type, int.MaxValue);

    /// <summary>The identifiers of a contact, phones placed with the tenant's region, blocked values marked; distinct.</summary>
    public IReadOnlyList<IdentifierUse> Prepare(IEnumerable<ContactIdentifier> identifiers)
    {
        var result = new List<IdentifierUse>();
        foreach (var identifier in identifiers)
        {
            var (type, value) = (identifier.Type, identifier.Value);
            string? kept = null;
            if (type == IdentifierTypes.Phone)
            {
                var (placed, error) = IdentifierNormalizer.PhoneInRegion(value, DefaultRegion);
                if (placed is null)
                {
                    kept = $"unplaced: phone {error}";
                }
                else
                {
                    value = placed;
                }
            }
            kept ??= BlockedBy(type, value);
            if (!result.Any(r => r.Type == type && r.Value == value))
            {
                result.Add(new IdentifierUse(type, value, kept));
            }
        }
        return result;
    }

    /// <summary>The rule that blocks a value from matching, or null.</summary>
    public string? BlockedBy(string type, string value)
    {
        if (type == IdentifierTypes.Phone && IsRepeatedDigits(value))
        {
            return "blocked: phone of one repeated digit (such as all zeros)";
        }
        foreach (var pattern in _blocked.GetValueOrDefault(type, []))
        {
            if (Glob(pattern, value))
            {
                return $"blocked: {IdentifierTypes.PublicName(type)} matches \"{pattern}\"";
            }
        }
        return null;
    }

    /// <summary>+1 000 000 0000, +44 0000000000, +49 1111111: whatever the country code, the rest is one digit repeated.</summary>
    private static bool IsRepeatedDigits(string e164)
    {
        if (!e164.StartsWith('+'))
        {
            return false;
        }
        var digits = e164[1..];
        for (var cc = 1; cc <= 3 && cc < digits.Length; cc++)
        {
            var rest = digits[cc..];
            if (rest.Length >= 6 && rest.All(d => d == rest[0]))
            {
                return true;
            }
        }
        return false;
    }

    private static string Internal(string publicName) => IdentifierTypes.FromPublicName(publicName) ?? publicName;

    /// <summary>Case-insensitive match where '*' stands for any run of characters; linear backtracking, no regex (no timeouts, no ReDoS).</summary>
    public static bool Glob(string pattern, string value)
    {
        int p = 0, v = 0, star = -1, resume = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && pattern[p] != '*' && char.ToUpperInvariant(pattern[p]) == char.ToUpperInvariant(value[v]))
            {
                (p, v) = (p + 1, v + 1);
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                (star, resume, p) = (p, v, p + 1);
            }
            else if (star >= 0)
            {
                (p, v, resume) = (star + 1, resume + 1, resume + 1);
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}
