using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using Contacts.Identifiers;

namespace Contacts.Identity.Settings;

/// <summary>
/// A tenant's identity settings as the API shows them (public type names: phone, email, crmId, accountNumber, handle,
/// deviceId). Every field has a protective default; what a tenant PUTs replaces the defaults field by field.
/// </summary>
public sealed record IdentitySettings(
    [property: Description("Region (US, GB, ...) for phone numbers written in national format; null: such numbers are kept on the contact but never matched.")] [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? DefaultRegion,
    [property: Description("Distinct values of each type one customer may hold (phone, email, crmId, accountNumber, handle, deviceId; 1-1000).")] IReadOnlyDictionary<string, int> Limits,
    [property: Description("Identifier types, most trusted first.")] IReadOnlyList<string> Priority,
    [property: Description("Per type, values never matched ('*' matches anything; case-insensitive).")] IReadOnlyDictionary<string, IReadOnlyList<string>> Blocked)
{
    public const int MaxLimit = 1000;
    public const int MaxBlockedPerType = 200;

    private static readonly string[] OpaqueJunk = ["anonymous", "unknown", "null", "none", "undefined", "n/a", "na", "-", "-1", "0", "test"];

    /// <summary>
    /// One CRM id and one account number per customer (they are keys of someone else's record); one email and one phone,
    /// so a shared family phone or a support@ mailbox never joins two people (a person with two phones stays two
    /// customers, linked by the shared identifier, until the tenant raises the limit); 3 handles and 5 devices.
    /// </summary>
    public static readonly IdentitySettings Defaults = new(
        DefaultRegion: null,
        Limits: new Dictionary<string, int> { ["crmId"] = 1, ["accountNumber"] = 1, ["email"] = 1, ["phone"] = 1, ["handle"] = 3, ["deviceId"] = 5 },
        Priority: ["crmId", "accountNumber", "email", "phone", "handle", "deviceId"],
        Blocked: new Dictionary<string, IReadOnlyList<string>>
        {
            ["phone"] = [],
            ["email"] = ["noreply@*", "no-reply@*", "donotreply@*", "do-not-reply@*", "mailer-daemon@*", "postmaster@*", "anonymous@*", "unknown@*"],
            ["crmId"] = OpaqueJunk,
            ["accountNumber"] = OpaqueJunk,
            ["handle"] = OpaqueJunk,
            ["deviceId"] = [.. OpaqueJunk, "00000000-0000-0000-0000-000000000000"],
        });

    public static IReadOnlyList<string> TypeNames => Defaults.Priority;

    /// <summary>Effective settings: the stored document over the defaults. A stored document was validated when it was PUT.</summary>
    public static IdentitySettings Effective(IdentitySettingsInput? stored)
    {
        if (stored is null)
        {
            return Defaults;
        }
        var limits = new Dictionary<string, int>(Defaults.Limits);
        foreach (var (type, limit) in stored.Limits ?? [])
        {
            limits[type] = limit;
        }
        var priority = stored.Priority is { } given ? [.. given, .. Defaults.Priority.Except(given)] : Defaults.Priority;
        var blocked = new Dictionary<string, IReadOnlyList<string>>(Defaults.Blocked);
        foreach (var (type, values) in stored.Blocked ?? [])
        {
            blocked[type] = values;
        }
        return new IdentitySettings(stored.DefaultRegion, limits, priority, blocked);
    }

    /// <summary>Every rule a PUT body breaks, keyed by the JSON path of the field.</summary>
    public static Dictionary<string, string[]> Validate(IdentitySettingsInput input)
    {
        var errors = new Dictionary<string, string[]>();
        void Fail(string field, string rule) => errors[field] = errors.TryGetValue(field, out var e) ? [.. e, rule] : [rule];
        var types = string.Join(", ", TypeNames);

        if (input.DefaultRegion is { } region && !IdentifierNormalizer.IsSupportedRegion(region))
        {
            Fail("defaultRegion", "must be a two-letter region code in capitals that has a phone numbering plan, such as US or GB, or null");
        }
        foreach (var (type, limit) in input.Limits ?? [])
        {
            if (!TypeNames.Contains(type))
            {
                Fail($"limits.{type}", $"is not an identifier type; use {types}");
            }
            else if (limit is < 1 or > MaxLimit)
            {
                Fail($"limits.{type}", $"must be between 1 and {MaxLimit}");
            }
        }
        if (input.Priority is { } priority)
        {
            foreach (var type in priority.Where(t => !TypeNames.Contains(t)))
            {
                Fail("priority", $"'{type}' is not an identifier type; use {types}");
            }
            if (priority.Distinct().Count() != priority.Count)
            {
                Fail("priority", "must not name a type twice");
            }
        }
        foreach (var (type, values) in input.Blocked ?? [])
        {
            if (!TypeNames.Contains(type))
            {
                Fail($"blocked.{type}", $"is not an identifier type; use {types}");
            }
            else if (values is null || values.Count > MaxBlockedPerType)
            {
                Fail($"blocked.{type}", $"must be a list of at most {MaxBlockedPerType} values");
            }
            else if (values.Any(v => string.IsNullOrWhiteSpace(v) || v.Length > 200 || v.Any(char.IsControl)))
            {
                Fail($"blocked.{type}", "values must be 1 to 200 characters without control characters ('*' matches anything)");
            }
        }
        return errors;
    }

    public static IdentitySettingsInput? Parse(string json) => JsonSerializer.Deserialize<IdentitySettingsInput>(json, SettingsJson.Options);
}

/// <summary>The body of PUT /v1/settings/identity: each field optional (absent means the default).</summary>
public sealed record IdentitySettingsInput(
    [property: Description("Region (US, GB, ...) for phone numbers written in national format; null: such numbers are kept on the contact but never matched.")] string? DefaultRegion = null,
    [property: Description("Distinct values of each type one customer may hold (phone, email, crmId, accountNumber, handle, deviceId; 1-1000).")] Dictionary<string, int>? Limits = null,
    [property: Description("Identifier types, most trusted first.")] List<string>? Priority = null,
    [property: Description("Per type, values never matched ('*' matches anything; case-insensitive).")] Dictionary<string, List<string>>? Blocked = null);

internal static class SettingsJson
{
    // A member given twice is refused (JsonException, answered 400 naming it) rather than the last one silently winning.
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { MaxDepth = 8, AllowDuplicateProperties = false };
}
