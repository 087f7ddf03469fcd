using Contacts.Contracts;

namespace Contacts.Alerting.Alerts;

/// <summary>An alert that is open for a customer: at most one per reason.</summary>
public sealed record OpenAlert(Guid AlertId, string Reason, int Score, DateTimeOffset RaisedAt);

/// <summary>
/// What alerting knows of one customer: the newest score it has seen (by the effort-state version it came from), whether
/// identity merged the customer into another, and its open alerts.
/// </summary>
public sealed record CustomerAlertState(Guid CustomerId, long? ScoreVersion, int? Score, Guid? MergedInto, IReadOnlyList<OpenAlert> OpenAlerts)
{
    public static CustomerAlertState Unknown(Guid customerId) => new(customerId, null, null, null, []);

    public OpenAlert? Open(string reason) => OpenAlerts.FirstOrDefault(a => a.Reason == reason);
}

/// <summary>What alerting decided; the shell stores each and publishes the raised alerts.</summary>
public abstract record AlertDecisionEvent;

/// <summary>The customer's current score is now this one.</summary>
public sealed record ScoreRecorded(Guid CustomerId, long Version, int Score) : AlertDecisionEvent;

/// <summary>A rule is crossed and no alert for it is open: a new alert, which the CRM is told about.</summary>
public sealed record AlertRaised(Guid AlertId, Guid CustomerId, string Reason, EffortScored Score) : AlertDecisionEvent;

/// <summary>The open alert carries the customer's newer score.</summary>
public sealed record OpenAlertRescored(Guid AlertId, EffortScored Score) : AlertDecisionEvent;

/// <summary>Identity merged this customer into the survivor; its later (stale) scores are ignored.</summary>
public sealed record CustomerMergedInto(Guid CustomerId, Guid SurvivorId) : AlertDecisionEvent;

/// <summary>A merged customer's open alert now belongs to the survivor, which had none for that reason.</summary>
public sealed record AlertMoved(Guid AlertId, Guid FromCustomerId, Guid ToCustomerId) : AlertDecisionEvent;

/// <summary>A merged customer's open alert is closed: the survivor already has one open for the same reason (one person, one alert).</summary>
public sealed record AlertMergedInto(Guid AlertId, Guid SurvivorAlertId) : AlertDecisionEvent;

/// <summary>
/// Alerting's decisions, pure: the customer's current state plus one input (a score or a merge) gives events. Decisions
/// follow the customer's state, never the order messages arrive in: a score older than one already seen (by its
/// version) changes nothing, and a score for a customer already merged away is stale by construction (effort scores the
/// survivor from then on).
/// </summary>
public static class AlertDecision
{
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState state, EffortScored score, AlertRuleOptions rules, Func<Guid> newAlertId)
    {
        if (state.MergedInto is not null || state.ScoreVersion is { } seen && score.Version <= seen)
        {
            return [];
        }
        var events = new List<AlertDecisionEvent> { new ScoreRecorded(state.CustomerId, score.Version, score.Score) };
        foreach (var reason in AlertRules.ReasonsFor(score, rules))
        {
            events.Add(state.Open(reason) is { } open
                ? new OpenAlertRescored(open.AlertId, score)
                : new AlertRaised(newAlertId(), state.CustomerId, reason, score));
        }
        return events;
    }

    /// <summary>
    /// Folds the merged customers into the survivor (which must not itself be merged: the shell follows the chain first).
    /// Each open alert of a merged customer moves to the survivor unless the survivor has one for that reason already.
    /// Customers already known as merged change nothing, so a redelivered or repeated merge is harmless.
    /// </summary>
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState survivor, IReadOnlyList<CustomerAlertState> merged)
    {
        if (survivor.MergedInto is { } further)
        {
            throw new InvalidOperationException($"survivor {survivor.CustomerId} was itself merged into {further}; merge into the last survivor");
        }
        var open = survivor.OpenAlerts.ToDictionary(a => a.Reason);
        var events = new List<AlertDecisionEvent>();
        foreach (var customer in merged.Where(m => m.CustomerId != survivor.CustomerId && m.MergedInto is null).DistinctBy(m => m.CustomerId))
        {
            events.Add(new CustomerMergedInto(customer.CustomerId, survivor.CustomerId));
            foreach (var alert in customer.OpenAlerts)
            {
                if (open.TryGetValue(alert.Reason, out var kept))
                {
                    events.Add(new AlertMergedInto(alert.AlertId, kept.AlertId));
                }
                else
                {
                    events.Add(new AlertMoved(alert.AlertId, customer.CustomerId, survivor.CustomerId));
                    open[alert.Reason] = alert;
                }
            }
        }
        return events;
    }
}
