using Contacts.Alerting.Settings;
using Contacts.Contracts;

namespace Contacts.Alerting.Alerts;

/// <summary>An alert's status: open and acknowledged are active (one per customer and reason); resolved and merged are over.</summary>
public static class AlertStatus
{
    public const string Open = "open";
    public const string Acknowledged = "acknowledged";
    public const string Resolved = "resolved";
    public const string Merged = "merged";
    public static readonly string[] All = [Open, Acknowledged, Resolved, Merged];
}

/// <summary>Why an alert was resolved.</summary>
public static class Resolutions
{
    public const string Manual = "manual";
    public const string ScoreBelowThreshold = "score_below_threshold";
    public const string JourneyClosed = "journey_closed";
    public const string Merged = "merged";
}

/// <summary>
/// An active alert of a customer (open or acknowledged): at most one per reason. JourneyId and JourneyLastAt: the journey
/// its latest score came from and that journey's last contact.
/// </summary>
public sealed record OpenAlert(Guid AlertId, string Reason, int Score, DateTimeOffset RaisedAt, Guid ContactEventId = default,
    string Status = AlertStatus.Open, int Level = 0, Guid? JourneyId = null, DateTimeOffset? JourneyLastAt = null);

/// <summary>
/// What alerting knows of one customer: the newest score it has seen (by the effort-state version it came from), whether
/// identity merged the customer into another, and its active alerts. HeldScore is the newest score that arrived while the
/// customer was merged away (kept, not acted on, in case a split brings the customer back); SplitFrom names the customers
/// identity split this one from (a merge of this one into them that arrives late is the old one); Erased: forgotten;
/// LastResolved: when an alert of each reason was last resolved, for this customer or one merged into it (the cooldown
/// runs from there: the person's alert was handled, whichever of their records it was raised on).
/// </summary>
public sealed record CustomerAlertState(
    Guid CustomerId, long? ScoreVersion, int? Score, Guid? MergedInto, IReadOnlyList<OpenAlert> OpenAlerts,
    bool Erased = false, EffortScored? HeldScore = null, IReadOnlyList<Guid>? SplitFrom = null,
    IReadOnlyDictionary<string, DateTimeOffset>? LastResolved = null)
{
    public static CustomerAlertState Unknown(Guid customerId) => new(customerId, null, null, null, []);

    public bool WasSplitFrom(Guid customerId) => SplitFrom?.Contains(customerId) == true;

    public OpenAlert? Open(string reason) => OpenAlerts.FirstOrDefault(a => a.Reason == reason);

    public bool CoolingDown(string reason, AlertingSettings rules, DateTimeOffset now) =>
        LastResolved?.TryGetValue(reason, out var resolvedAt) == true && now < resolvedAt + rules.Cooldown;

    /// <summary>This customer's last resolutions joined with those of customers folded into it: the latest per reason.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> LastResolvedWith(IEnumerable<CustomerAlertState> folded) =>
        folded.Append(this).SelectMany(s => s.LastResolved ?? new Dictionary<string, DateTimeOffset>())
            .GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Max(r => r.Value));
}

/// <summary>One alert as the manual commands see it.</summary>
public sealed record AlertSnapshot(Guid AlertId, Guid CustomerId, string Reason, string Status);

/// <summary>What alerting decided; the shell stores each, and publishes and webhooks every change of an alert.</summary>
public abstract record AlertDecisionEvent;

/// <summary>The customer's current score is now this one.</summary>
public sealed record ScoreRecorded(Guid CustomerId, long Version, int Score) : AlertDecisionEvent;

/// <summary>A rule is crossed and no alert for it is active nor cooling down: a new alert (at the escalation level its score reaches).</summary>
public sealed record AlertRaised(Guid AlertId, Guid CustomerId, string Reason, EffortScored Score, int Level = 0) : AlertDecisionEvent;

/// <summary>The active alert carries the customer's newer score.</summary>
public sealed record OpenAlertRescored(Guid AlertId, EffortScored Score) : AlertDecisionEvent;

/// <summary>The active alert's score reached a higher escalation level than it had: told once per level.</summary>
public sealed record Escalated(Guid AlertId, Guid CustomerId, string Reason, int Level) : AlertDecisionEvent;

/// <summary>The tenant acknowledged the alert.</summary>
public sealed record Acknowledged(Guid AlertId, Guid CustomerId, string Reason) : AlertDecisionEvent;

/// <summary>The alert is over: resolved through the API, or by itself when its rule no longer holds.</summary>
public sealed record Resolved(Guid AlertId, Guid CustomerId, string Reason, string Resolution) : AlertDecisionEvent;

/// <summary>Identity merged this customer into the survivor; its later (stale) scores are ignored.</summary>
public sealed record CustomerMergedInto(Guid CustomerId, Guid SurvivorId) : AlertDecisionEvent;

/// <summary>A merged customer's active alert now belongs to the survivor, which had none for that reason.</summary>
public sealed record AlertMoved(Guid AlertId, Guid FromCustomerId, Guid ToCustomerId) : AlertDecisionEvent;

/// <summary>A merged customer's active alert is closed: the survivor already has one for the same reason (one person, one alert).</summary>
public sealed record AlertMergedInto(Guid AlertId, Guid SurvivorAlertId) : AlertDecisionEvent;

/// <summary>A score for a customer merged away: kept (the newest only) in case a split brings the customer back, never acted on.</summary>
public sealed record ScoreHeld(Guid CustomerId, EffortScored Score) : AlertDecisionEvent;

/// <summary>Identity split RestoredId back out of CustomerId: it is a customer of its own again and is never merged back by a late merge.</summary>
public sealed record CustomerRestored(Guid RestoredId, Guid SplitFromId) : AlertDecisionEvent;

/// <summary>
/// Alerting's decisions, pure: the customer's current state plus one input (a score, a merge, a split, a command) gives
/// events. Decisions follow the customer's state, never the order messages arrive in: a score older than one already seen
/// (by its version) changes nothing, and a score for a customer already merged away is stale by construction (effort
/// scores the survivor from then on).
/// </summary>
public static class AlertDecision
{
    /// <summary>
    /// A newer score: each active alert whose rule still holds takes it (and escalates once per new level reached); one
    /// whose rule no longer holds resolves by itself (score_below_threshold when the score is of the alert's journey,
    /// journey_closed when it is of a journey opened after the alert's last contact, and not at all for a journey that
    /// overlaps the alert's, which only a merge not yet folded into the score can give); each rule crossed with no active alert raises one, unless an alert for
    /// that reason was resolved within the cooldown.
    /// </summary>
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState state, EffortScored score, AlertingSettings rules, Func<Guid> newAlertId,
        DateTimeOffset now)
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
        var crossed = AlertRules.ReasonsFor(score, rules).ToList();
        foreach (var alert in state.OpenAlerts.Where(a => AlertRules.FollowsScores(a.Reason)))
        {
            if (crossed.Contains(alert.Reason))
            {
                events.Add(new OpenAlertRescored(alert.AlertId, score));
                if (AlertRules.LevelOf(alert.Reason, score, rules) is var level && level > alert.Level)
                {
                    events.Add(new Escalated(alert.AlertId, state.CustomerId, alert.Reason, level));
                }
            }
            else if (alert.JourneyId is not { } journey || score.JourneyId == journey)
            {
                events.Add(new Resolved(alert.AlertId, state.CustomerId, alert.Reason, Resolutions.ScoreBelowThreshold));
            }
            else if (alert.JourneyLastAt is not { } lastAt || score.WindowStart > lastAt)
            {
                events.Add(new Resolved(alert.AlertId, state.CustomerId, alert.Reason, Resolutions.JourneyClosed));
            }
            // Otherwise the score is of a journey alongside the alert's, not after it: the survivor's own score from before a
            // merge brought the alert's customer in, arriving late. It says nothing of the alert's journey, which stays as it is.
        }
        foreach (var reason in crossed.Where(r => state.Open(r) is null && !state.CoolingDown(r, rules, now)))
        {
            events.Add(new AlertRaised(newAlertId(), state.CustomerId, reason, score, AlertRules.LevelOf(reason, score, rules)));
        }
        return events;
    }

    /// <summary>
    /// A score that names customers merged into its customer (effort computed it from their contacts): the merges alerting
    /// has not heard of yet are folded first, as identity's CustomersMerged would fold them, and the score is decided on
    /// the folded state. CustomersMerged travels apart from the scores and may arrive after them; without this, the
    /// survivor's crossing would raise a second alert beside the one its merged part already had. Likewise a score that
    /// follows a split of its customer (Split set, with <paramref name="restored"/> the split's other side) applies the
    /// split first when alerting has not seen it yet.
    /// </summary>
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState state, IReadOnlyList<CustomerAlertState> merged, EffortScored score,
        AlertingSettings rules, Func<Guid> newAlertId, DateTimeOffset now, CustomerAlertState? restored = null)
    {
        if (restored is not null && score.Split is { } split && split.CustomerId == state.CustomerId && restored.CustomerId == split.RestoredCustomerId
            && !state.Erased && state.MergedInto is null && !(state.ScoreVersion is { } known && score.Version <= known)
            && Decide(state, restored, split, rules, newAlertId, now) is { Count: > 0 } splitEvents)
        {
            // Effort's re-score after a split overtook identity's CustomerSplit: the split is applied first (the restored
            // customer takes back the alert its own contact raised), so the survivor's lower score does not resolve that alert
            // as if it were still the survivor's. The split, arriving later, finds it done.
            var gone = splitEvents.OfType<AlertMoved>().Select(m => m.AlertId).ToHashSet();
            var remaining = state with { OpenAlerts = [.. state.OpenAlerts.Where(a => !gone.Contains(a.AlertId))] };
            return [.. splitEvents, .. Decide(remaining, merged, score, rules, newAlertId, now)];
        }
        if (merged.Count == 0 || state.Erased || state.MergedInto is not null || state.ScoreVersion is { } seen && score.Version <= seen)
        {
            return Decide(state, score, rules, newAlertId, now);
        }
        var merges = Decide(state, merged, state.CustomerId);
        var moved = merges.OfType<AlertMoved>().Select(m => m.AlertId).ToHashSet();
        var folded = state with
        {
            OpenAlerts = [.. state.OpenAlerts, .. merged.SelectMany(m => m.OpenAlerts).Where(a => moved.Contains(a.AlertId)).DistinctBy(a => a.AlertId)],
            LastResolved = state.LastResolvedWith(merged.Where(m => merges.Contains(new CustomerMergedInto(m.CustomerId, state.CustomerId)))),
        };
        return [.. merges, .. Decide(folded, score, rules, newAlertId, now)];
    }

    /// <summary>
    /// Folds the merged customers into the survivor (which must not itself be merged: the shell follows the chain first).
    /// Each active alert of a merged customer moves to the survivor unless the survivor has one for that reason already.
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
    /// active alert of the survivor raised by a contact the restored customer takes back goes with it (one alert per reason
    /// on each side); and when a score for the restored customer arrived while it was still merged here (effort re-scores
    /// both sides after a split, and that may overtake the split), the restored customer is decided on it now. Otherwise
    /// effort's post-split scores, newer by version, decide both sides as they arrive.
    /// </summary>
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState survivor, CustomerAlertState restored, CustomerSplit split,
        AlertingSettings rules, Func<Guid> newAlertId, DateTimeOffset now)
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
            events.AddRange(Decide(restored with { MergedInto = null, HeldScore = null, OpenAlerts = restoredOpen }, held, rules, newAlertId, now));
        }
        return events;
    }

    /// <summary>
    /// A promise made to the customer broke (effort's moment of misery with promise_broken): an alert promise_broken on
    /// the customer it belongs to now, unless one is active or one was resolved within the cooldown. Its evidence is the
    /// contact that made the promise; scores never rescore or resolve it (resolve it through the API, or it closes with its
    /// journey's quiet).
    /// </summary>
    public static IReadOnlyList<AlertDecisionEvent> Decide(CustomerAlertState state, MomentOfMisery misery, AlertingSettings rules, Func<Guid> newAlertId,
        DateTimeOffset now)
    {
        if (state.Erased || state.MergedInto is not null || !misery.Reasons.Contains(AlertRules.PromiseBroken)
            || state.Open(AlertRules.PromiseBroken) is not null || state.CoolingDown(AlertRules.PromiseBroken, rules, now))
        {
            return [];
        }
        var evidence = new EffortScored(misery.Id, misery.TenantId, state.CustomerId, misery.ContactEventId, state.Score ?? 0, 1, 1,
            [new EffortDriver(AlertRules.PromiseBroken, 0, $"a promise made on {misery.ContactId} fell due at {misery.At:yyyy-MM-dd HH:mm} UTC with no outbound contact",
                [misery.ContactId])],
            misery.At, misery.At, state.ScoreVersion ?? 0);
        return [new AlertRaised(newAlertId(), state.CustomerId, AlertRules.PromiseBroken, evidence)];
    }

    /// <summary>
    /// The journey an active alert's latest score came from has been quiet for the journey window: effort counts it
    /// closed (no message says so), and the alert resolves by itself as journey_closed.
    /// </summary>
    public static IReadOnlyList<AlertDecisionEvent> Expire(AlertSnapshot alert, DateTimeOffset? journeyLastAt, DateTimeOffset now, TimeSpan journeyWindow) =>
        alert.Status is AlertStatus.Open or AlertStatus.Acknowledged && journeyLastAt is { } last && now - last > journeyWindow
            ? [new Resolved(alert.AlertId, alert.CustomerId, alert.Reason, Resolutions.JourneyClosed)]
            : [];

    /// <summary>Acknowledging an open alert; again, nothing more (idempotent); a resolved or merged alert cannot be.</summary>
    public static (IReadOnlyList<AlertDecisionEvent> Events, string? Conflict) Acknowledge(AlertSnapshot alert) => alert.Status switch
    {
        AlertStatus.Open => ([new Acknowledged(alert.AlertId, alert.CustomerId, alert.Reason)], null),
        AlertStatus.Acknowledged => ([], null),
        _ => ([], $"The alert is {alert.Status}; only an open alert can be acknowledged."),
    };

    /// <summary>Resolving an active alert; again, nothing more (idempotent); a merged alert is carried on by another and cannot be.</summary>
    public static (IReadOnlyList<AlertDecisionEvent> Events, string? Conflict) Resolve(AlertSnapshot alert) => alert.Status switch
    {
        AlertStatus.Open or AlertStatus.Acknowledged => ([new Resolved(alert.AlertId, alert.CustomerId, alert.Reason, Resolutions.Manual)], null),
        AlertStatus.Resolved => ([], null),
        _ => ([], $"The alert is {alert.Status}; resolve the alert that carries it on instead."),
    };
}
