using Contacts.Alerting.Settings;
using Contacts.Contracts;

namespace Contacts.Alerting.Alerts;

/// <summary>Decides which rules a score crosses, and to what escalation level.</summary>
public static class AlertRules
{
    public const string HighEffort = AlertingSettingsValidation.HighEffort;

    /// <summary>A promise made to the customer fell due with no outbound contact (effort's moment of misery): not a score's rule.</summary>
    public const string PromiseBroken = AlertingSettingsValidation.PromiseBroken;

    /// <summary>Whether scores decide an alert of this reason (rescore, escalate, resolve); a broken promise's alert is not theirs.</summary>
    public static bool FollowsScores(string reason) => reason != PromiseBroken;

    public static string? ReasonFor(EffortScored score, AlertingSettings rules) =>
        score.Score >= rules.Threshold ? HighEffort : null;

    /// <summary>Every rule the score crosses: high effort by its score, and each driver rule whose conditions all hold.</summary>
    public static IEnumerable<string> ReasonsFor(EffortScored score, AlertingSettings rules)
    {
        if (ReasonFor(score, rules) is { } reason)
        {
            yield return reason;
        }
        foreach (var rule in rules.DriverRules.Where(r => Holds(r, score.Drivers)))
        {
            yield return rule.Reason;
        }
    }

    /// <summary>Escalation follows the score's levels for high effort; driver rules do not escalate.</summary>
    public static int LevelOf(string reason, EffortScored score, AlertingSettings rules) =>
        reason == HighEffort ? rules.LevelOf(score.Score) : 0;

    /// <summary>Every condition names a driver present with enough value and points; with SameContact, one contact shows them all.</summary>
    public static bool Holds(DriverRule rule, IReadOnlyList<EffortDriver> drivers)
    {
        var matched = new List<EffortDriver>();
        foreach (var condition in rule.Drivers)
        {
            var driver = drivers.FirstOrDefault(d => d.Name == condition.Name
                && (condition.MinValue is not { } min || d.Value is { } v && v >= min)
                && (condition.MinPoints is not { } points || d.Points >= points));
            if (driver is null)
            {
                return false;
            }
            matched.Add(driver);
        }
        if (!rule.SameContact || matched.Count == 0)
        {
            return matched.Count > 0;
        }
        IEnumerable<string> shared = matched[0].ContactIds ?? [];
        foreach (var driver in matched.Skip(1))
        {
            shared = shared.Intersect(driver.ContactIds ?? []);
        }
        return shared.Any();
    }
}
