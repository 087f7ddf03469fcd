using Contacts.Contracts;

namespace Contacts.Alerting.Alerts;

/// <summary>An alert that is open for a customer: at most one per reason.</summary>
public sealed record OpenAlert(Guid AlertId, string Reason, int Score, DateTimeOffset RaisedAt, Guid ContactEventId = default);

/// <summary>
/// What alerting knows of one customer: the newest score it has seen (by the effort-state version it came from), whether
/// identity merged the customer into another, and its open alerts. HeldScore is the newest score that arrived while the
/// customer was merged away (kept, not acted on, in case a split brings the customer back); SplitFrom names the customers
/// identity split this one from (a merge of this one into them that arrives late is the old one); Erased: forgotten.
/// </summary>
public sealed record CustomerAlertState(
    Guid CustomerId, long? ScoreVersion, int? Score, Guid? MergedInto, IReadOnlyList<OpenAlert> OpenAlerts,
    bool Erased = false, EffortScored? HeldScore = null, IReadOnlyList<Guid>? SplitFrom = null)
{
    public static CustomerAlertState Unknown(Guid customerId) => new(customerId, null, null, null, []);

    public bool WasSplitFrom(Guid customerId) => SplitFrom?.Contains(customerId) == true;

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

/// <summary>A score for a customer merged away: kept (the newest only) in case a split brings the customer back, never acted on.</summary>
public sealed record ScoreHeld(Guid CustomerId, EffortScored Score) : AlertDecisionEvent;

/// <summary>Identity split RestoredId back out of CustomerId: it is a customer of its own again and is never merged back by a late merge.</summary>
public sealed record CustomerRestored(Guid RestoredId, Guid SplitFromId) : AlertDecisionEvent;

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
        if (state.Erased || state.ScoreVersion is { } seen && score.Version <= seen)
        {
            return [];
        }
        if (state.MergedInto is not null)
        {
            return state.HeldScore is { } held && score.Version <= held.Version ? [] : [new ScoreHeld(state.CustomerId, score)];
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
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState survivor, IReadOnlyList<CustomerAlertState> merged, Guid? namedSurvivorId = null)
    {
        if (survivor.MergedInto is { } further)
        {
            throw new InvalidOperationException($"survivor {survivor.CustomerId} was itself merged into {further}; merge into the last survivor");
        }
        var open = survivor.OpenAlerts.ToDictionary(a => a.Reason);
        var events = new List<AlertDecisionEvent>();
        // A customer split from the survivor after this merge (the merge arrived late) stays apart: identity never merges a split pair again.
        foreach (var customer in merged.Where(m => m.CustomerId != survivor.CustomerId && m.MergedInto is null && !m.Erased
                     && !m.WasSplitFrom(survivor.CustomerId) && !(namedSurvivorId is { } named && m.WasSplitFrom(named))).DistinctBy(m => m.CustomerId))
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

    /// <summary>
    /// Identity split <paramref name="restored"/> back out of the customer now carried on by <paramref name="survivor"/> (the
    /// split's customer, or the last survivor it has since merged into). The restored customer stands on its own again; an
    /// open alert of the survivor raised by a contact the restored customer takes back goes with it (one alert per reason
    /// on each side); and when a score for the restored customer arrived while it was still merged here (effort re-scores
    /// both sides after a split, and that may overtake the split), the restored customer is decided on it now. Otherwise
    /// effort's post-split scores, newer by version, decide both sides as they arrive.
    /// </summary>
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState survivor, CustomerAlertState restored, CustomerSplit split,
        AlertRuleOptions rules, Func<Guid> newAlertId)
    {
        if (survivor.MergedInto is { } further)
        {
            throw new InvalidOperationException($"survivor {survivor.CustomerId} was itself merged into {further}; split from the last survivor");
        }
        if (restored.Erased || survivor.CustomerId == restored.CustomerId || restored.WasSplitFrom(split.CustomerId))
        {
            return []; // erased, nonsense, or this split was seen already
        }
        var events = new List<AlertDecisionEvent> { new CustomerRestored(restored.CustomerId, split.CustomerId) };
        var takenBack = split.RestoredContactEventIds.ToHashSet();
        var restoredOpen = restored.OpenAlerts.ToList();
        foreach (var alert in survivor.OpenAlerts.Where(a => takenBack.Contains(a.ContactEventId)))
        {
            if (restoredOpen.All(a => a.Reason != alert.Reason))
            {
                events.Add(new AlertMoved(alert.AlertId, survivor.CustomerId, restored.CustomerId));
                restoredOpen.Add(alert);
            }
        }
        if (restored.HeldScore is { } held)
        {
            events.AddRange(Decide(restored with { MergedInto = null, HeldScore = null, OpenAlerts = restoredOpen }, held, rules, newAlertId));
        }
        return events;
    }
}
