using Contacts.Contracts;

namespace Contacts.Alerting.Alerts;

public sealed class AlertRuleOptions
{
    /// <summary>Scores at or above this raise a high-effort alert. 60 is crossed by, e.g., 3 contacts over 3 channels in a week.</summary>
    public int HighEffortThreshold { get; set; } = 60;
}

/// <summary>Decides whether a score raises an alert, and for what reason.</summary>
public static class AlertRules
{
    public const string HighEffort = "high_effort";

    public static string? ReasonFor(EffortScored score, AlertRuleOptions options) =>
        score.Score >= options.HighEffortThreshold ? HighEffort : null;

    /// <summary>Every rule the score crosses (one today; each reason has its own open alert).</summary>
    public static IEnumerable<string> ReasonsFor(EffortScored score, AlertRuleOptions options) =>
        ReasonFor(score, options) is { } reason ? [reason] : [];
}
