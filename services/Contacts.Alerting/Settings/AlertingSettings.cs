using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Contacts.ServiceDefaults.Http;

namespace Contacts.Alerting.Settings;

/// <summary>
/// A tenant's alert rules: the score that raises a high-effort alert, how long a resolved alert keeps the same reason from
/// raising again, the scores at which an open high-effort alert escalates (each once), and driver-based rules, each a
/// reason of its own (e.g. "an abandoned contact after a queue wait over 10 minutes").
/// </summary>
public sealed record AlertingSettings
{
    [Description("A score at or above this raises a high_effort alert.")]
    public int Threshold { get; init; } = 60;
    [Description("After an alert is resolved, its reason raises no new alert for the customer for this long.")]
    public int CooldownMinutes { get; init; } = 24 * 60;
    [Description("Rising scores above the threshold at which an active high_effort alert escalates, once each.")]
    public IReadOnlyList<int> EscalationLevels { get; init; } = [80, 90];
    public IReadOnlyList<DriverRule> DriverRules { get; init; } = [];

    [JsonIgnore]
    public TimeSpan Cooldown => TimeSpan.FromMinutes(CooldownMinutes);

    /// <summary>The escalation level a score reaches: 0 under the first level, 1 at the first, and so on.</summary>
    public int LevelOf(int score) => EscalationLevels.Count(level => score >= level);
}

/// <summary>A driver-based rule: crossed when every condition holds (on one same contact, when SameContact is set).</summary>
public sealed record DriverRule(
    [property: Description("The alert reason the rule raises (not high_effort).")] string Reason,
    IReadOnlyList<DriverCondition> Drivers,
    [property: Description("One same contact must show every driver of the rule.")] bool SameContact = false);

/// <summary>A driver that must be present in the score, with at least this measured value and/or these points.</summary>
public sealed record DriverCondition(
    string Name,
    [property: Description("The driver's measured value (e.g. seconds of the longest wait) must be at least this.")] double? MinValue = null,
    int? MinPoints = null);

/// <summary>Deployment-wide defaults for tenants without settings of their own ("Alerting:Rules").</summary>
public sealed class AlertRuleOptions
{
    /// <summary>Scores at or above this raise a high-effort alert. 60 is crossed by, e.g., 3 contacts over 3 channels in a week.</summary>
    public int HighEffortThreshold { get; set; } = 60;

    public int CooldownMinutes { get; set; } = 24 * 60;

    /// <summary>Comma-separated scores at which an open alert escalates ("80,90"); empty for none.</summary>
    public string EscalationLevels { get; set; } = "80,90";

    /// <summary>Days of quiet after which a journey is closed (as effort's window, Effort:WindowDays): its alert resolves.</summary>
    public int JourneyWindowDays { get; set; } = 7;

    /// <summary>How often alerting looks for alerts whose journey has gone quiet.</summary>
    public TimeSpan ExpiryInterval { get; set; } = TimeSpan.FromMinutes(1);

    public AlertingSettings ToSettings() => new()
    {
        Threshold = HighEffortThreshold,
        CooldownMinutes = CooldownMinutes,
        EscalationLevels = [.. EscalationLevels.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse)],
    };
}

/// <summary>Reads and checks a PUT /v1/settings/alerting body: every fault named by its field, nothing stored unless all is well.</summary>
public static partial class AlertingSettingsValidation
{
    public const string HighEffort = "high_effort";
    public const string PromiseBroken = "promise_broken";
    public const int MaxCooldownMinutes = 30 * 24 * 60;
    public const int MaxLevels = 5;
    public const int MaxDriverRules = 20;

    /// <summary>The drivers effort scores (its Drivers constants); a rule naming another could never fire.</summary>
    public static readonly string[] KnownDrivers =
        ["repeat_contact", "channel_switch", "transfer", "long_hold", "long_queue_wait", "abandoned", "no_live_answer", "low_ces"];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        NumberHandling = JsonNumberHandling.Strict,
    };

    private sealed record Input(int? Threshold, int? CooldownMinutes, int[]? EscalationLevels, InputRule[]? DriverRules);

    private sealed record InputRule(string? Reason, InputCondition[]? Drivers, bool? SameContact);

    private sealed record InputCondition(string? Name, double? MinValue, int? MinPoints);

    [GeneratedRegex("^[a-z0-9_]{1,64}$")]
    private static partial Regex ReasonPattern();

    /// <summary>Fields left out take the defaults; a body that is not an object of the right JSON types is refused naming where.</summary>
    public static (AlertingSettings? Settings, Dictionary<string, string[]> Errors) Parse(string body)
    {
        var (input, errors) = JsonBody.Read<Input>(body, Json);
        if (input is null)
        {
            return (null, errors);
        }
        var settings = new AlertingSettings();
        var threshold = input.Threshold ?? settings.Threshold;
        if (threshold is < 1 or > 100)
        {
            errors["threshold"] = ["must be a whole number from 1 to 100"];
        }
        var cooldown = input.CooldownMinutes ?? settings.CooldownMinutes;
        if (cooldown is < 0 or > MaxCooldownMinutes)
        {
            errors["cooldownMinutes"] = [$"must be from 0 to {MaxCooldownMinutes} (30 days)"];
        }
        var levels = input.EscalationLevels ?? [.. settings.EscalationLevels];
        if (levels.Length > MaxLevels)
        {
            errors["escalationLevels"] = [$"at most {MaxLevels} levels"];
        }
        else if (levels.Any(l => l <= threshold || l > 100))
        {
            errors["escalationLevels"] = ["each level must be above the threshold and at most 100"];
        }
        else if (levels.Zip(levels.Skip(1)).Any(pair => pair.Second <= pair.First))
        {
            errors["escalationLevels"] = ["levels must rise strictly"];
        }
        var rules = new List<DriverRule>();
        var inputRules = input.DriverRules ?? [];
        if (inputRules.Length > MaxDriverRules)
        {
            errors["driverRules"] = [$"at most {MaxDriverRules} rules"];
        }
        for (var i = 0; i < inputRules.Length && inputRules.Length <= MaxDriverRules; i++)
        {
            var rule = inputRules[i];
            var at = $"driverRules[{i}]";
            if (rule is null)
            {
                errors[at] = ["must be an object"];
                continue;
            }
            if (rule.Reason is null || !ReasonPattern().IsMatch(rule.Reason) || rule.Reason is HighEffort or PromiseBroken)
            {
                errors[$"{at}.reason"] = [$"required: 1-64 of a-z 0-9 _, not '{HighEffort}' or '{PromiseBroken}'"];
            }
            else if (inputRules.Take(i).Any(r => r?.Reason == rule.Reason))
            {
                errors[$"{at}.reason"] = ["each rule needs a reason of its own"];
            }
            var conditions = new List<DriverCondition>();
            if (rule.Drivers is not { Length: > 0 and <= 8 })
            {
                errors[$"{at}.drivers"] = ["required: 1 to 8 driver conditions"];
            }
            else
            {
                for (var j = 0; j < rule.Drivers.Length; j++)
                {
                    var c = rule.Drivers[j];
                    var cat = $"{at}.drivers[{j}]";
                    if (c?.Name is null || !KnownDrivers.Contains(c.Name))
                    {
                        errors[$"{cat}.name"] = [$"must be one of {string.Join(", ", KnownDrivers)}"];
                        continue;
                    }
                    if (c.MinValue is { } v && (!double.IsFinite(v) || v < 0))
                    {
                        errors[$"{cat}.minValue"] = ["must be a finite number, 0 or more"];
                    }
                    if (c.MinPoints is < 0 or > 100)
                    {
                        errors[$"{cat}.minPoints"] = ["must be a whole number from 0 to 100"];
                    }
                    conditions.Add(new DriverCondition(c.Name, c.MinValue, c.MinPoints));
                }
            }
            rules.Add(new DriverRule(rule.Reason ?? "", conditions, rule.SameContact ?? false));
        }
        return errors.Count > 0
            ? (null, errors)
            : (new AlertingSettings { Threshold = threshold, CooldownMinutes = cooldown, EscalationLevels = levels, DriverRules = rules }, errors);
    }
}
