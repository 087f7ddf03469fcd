using Contacts.Alerting.Settings;
using Contacts.Contracts;

namespace Contacts.Alerting.Alerts;

/// <summary>What a batch of scores changes: each score's events (by index, in arrival order) and the customers' rows as the batch leaves them.</summary>
public sealed record AlertBatchDecision(IReadOnlyList<IReadOnlyList<AlertDecisionEvent>> Events, IReadOnlyList<CustomerAlertState> Changed);

/// <summary>
/// The pure core of a batch of scores: each score decided in arrival order on its customer's state as the scores before
/// it left it, exactly as if each had come alone and found the previous one stored (<see cref="Evolve(CustomerAlertState, AlertDecisionEvent, DateTimeOffset)"/>
/// is what storing an event does to the state alerting would load next). The shell loads every customer the batch
/// names in one round trip and writes the changed rows once.
/// </summary>
public static class AlertBatch
{
    /// <summary>
    /// Decides the scores of one tenant. <paramref name="loaded"/> holds the state of every customer the scores name (their
    /// customer and the customers they say were merged into it); scores after a split are not decided here (the shell
    /// decides them alone, with the split's other side).
    /// </summary>
    public static AlertBatchDecision Decide(IReadOnlyList<CustomerAlertState> loaded, IReadOnlyList<EffortScored> scores, AlertingSettings rules,
        Func<Guid> newAlertId, DateTimeOffset now)
    {
        foreach (var score in scores)
        {
            if (score.Split is not null)
            {
                throw new ArgumentException($"score {score.Id} follows a split; it is decided alone", nameof(scores));
            }
        }
        return InOrder(loaded, scores, now, (score, get) =>
        {
            // The merges this score names that alerting has not recorded yet, as they stand after the scores before it.
            var unmerged = (score.MergedCustomerIds ?? []).Where(id => id != score.CustomerId).Distinct().Select(get)
                .Where(s => s.MergedInto is null).ToList();
            return AlertDecision.Decide(get(score.CustomerId), unmerged, score, rules, newAlertId, now);
        });
    }

    /// <summary>
    /// Decides identity's merges of one tenant in arrival order, each folding its merged customers into the survivor as the
    /// merges before it left things: <paramref name="lastSurvivors"/> says where each named survivor's merges led when
    /// read, and a merge earlier in the batch that took that survivor away is followed too. <paramref name="loaded"/>
    /// holds those last survivors and every merged customer.
    /// </summary>
    public static AlertBatchDecision DecideMerges(IReadOnlyList<CustomerAlertState> loaded, IReadOnlyList<CustomersMerged> merges,
        IReadOnlyDictionary<Guid, Guid> lastSurvivors, DateTimeOffset now) =>
        InOrder(loaded, merges, now, (merge, get) =>
        {
            var survivorId = lastSurvivors.GetValueOrDefault(merge.SurvivorId, merge.SurvivorId);
            for (var hops = 0; get(survivorId).MergedInto is { } next; hops++)
            {
                survivorId = hops < 100 ? next : throw new InvalidOperationException($"merge chain from {merge.SurvivorId} is too long");
            }
            var merged = merge.MergedIds.Where(id => id != survivorId).Distinct().Select(get).ToList();
            return AlertDecision.Decide(get(survivorId), merged, merge.SurvivorId);
        });

    /// <summary>
    /// Each input decided in turn on the states as the ones before it left them (a customer not loaded is unknown), each
    /// decision's events applied before the next; the changed customers' rows as the batch leaves them.
    /// </summary>
    private static AlertBatchDecision InOrder<T>(IReadOnlyList<CustomerAlertState> loaded, IReadOnlyList<T> inputs, DateTimeOffset now,
        Func<T, Func<Guid, CustomerAlertState>, IReadOnlyList<AlertDecisionEvent>> decide)
    {
        var states = loaded.ToDictionary(s => s.CustomerId);
        var changed = new HashSet<Guid>();
        var events = new List<IReadOnlyList<AlertDecisionEvent>>(inputs.Count);
        CustomerAlertState Get(Guid id) => states.TryGetValue(id, out var state) ? state : states[id] = CustomerAlertState.Unknown(id);
        foreach (var input in inputs)
        {
            var decided = decide(input, Get);
            foreach (var e in decided)
            {
                Evolve(states, e, now);
                if (RowOf(e) is { } customer)
                {
                    changed.Add(customer);
                }
            }
            events.Add(decided);
        }
        return new AlertBatchDecision(events, [.. changed.Select(id => states[id])]);
    }

    /// <summary>The customer whose own row (customer_alert_state) an event changes, or null for an event about alerts.</summary>
    public static Guid? RowOf(AlertDecisionEvent e) => e switch
    {
        ScoreRecorded r => r.CustomerId,
        ScoreHeld h => h.CustomerId,
        CustomerMergedInto m => m.CustomerId,
        CustomerRestored r => r.RestoredId,
        _ => null,
    };

    /// <summary>
    /// An event applied to the states in hand: an alert moved between customers leaves one and joins the other, and a
    /// customer merged into another lends the survivor its resolutions (the cooldown follows the person).
    /// </summary>
    public static void Evolve(IDictionary<Guid, CustomerAlertState> states, AlertDecisionEvent e, DateTimeOffset now)
    {
        switch (e)
        {
            case AlertMoved moved when states.TryGetValue(moved.FromCustomerId, out var from):
                var alert = from.OpenAlerts.Single(a => a.AlertId == moved.AlertId);
                states[moved.FromCustomerId] = Evolve(from, e, now);
                var to = states.TryGetValue(moved.ToCustomerId, out var survivor) ? survivor : CustomerAlertState.Unknown(moved.ToCustomerId);
                states[moved.ToCustomerId] = to with { OpenAlerts = [.. to.OpenAlerts, alert] };
                return;
            case CustomerMergedInto merged when states.TryGetValue(merged.CustomerId, out var gone):
                states[merged.CustomerId] = Evolve(gone, e, now);
                if (states.TryGetValue(merged.SurvivorId, out var into))
                {
                    states[merged.SurvivorId] = into with { LastResolved = into.LastResolvedWith([gone]) };
                }
                return;
            default:
                foreach (var id in states.Keys.ToList())
                {
                    states[id] = Evolve(states[id], e, now);
                }
                return;
        }
    }

    /// <summary>What storing an event does to one customer's state (events about other customers leave it as it is).</summary>
    public static CustomerAlertState Evolve(CustomerAlertState state, AlertDecisionEvent e, DateTimeOffset now) => e switch
    {
        ScoreRecorded r when r.CustomerId == state.CustomerId => state with { ScoreVersion = r.Version, Score = r.Score },
        ScoreHeld h when h.CustomerId == state.CustomerId => state with { HeldScore = h.Score },
        CustomerMergedInto m when m.CustomerId == state.CustomerId => state with { MergedInto = m.SurvivorId },
        CustomerRestored r when r.RestoredId == state.CustomerId =>
            state with { MergedInto = null, HeldScore = null, SplitFrom = [.. state.SplitFrom ?? [], r.SplitFromId] },
        AlertRaised a when a.CustomerId == state.CustomerId => state with
        {
            OpenAlerts = [.. state.OpenAlerts, new OpenAlert(a.AlertId, a.Reason, a.Score.Score, now, a.Score.ContactEventId, AlertStatus.Open, a.Level,
                a.Score.JourneyId, a.Score.WindowEnd)],
        },
        OpenAlertRescored s => WithAlert(state, s.AlertId, o => o with { Score = s.Score.Score, JourneyId = s.Score.JourneyId, JourneyLastAt = s.Score.WindowEnd }),
        Escalated x => WithAlert(state, x.AlertId, o => o with { Level = x.Level }),
        Acknowledged k => WithAlert(state, k.AlertId, o => o with { Status = AlertStatus.Acknowledged }),
        Resolved r when r.CustomerId == state.CustomerId => state with
        {
            OpenAlerts = [.. state.OpenAlerts.Where(o => o.AlertId != r.AlertId)],
            LastResolved = new Dictionary<string, DateTimeOffset>(state.LastResolved ?? new Dictionary<string, DateTimeOffset>()) { [r.Reason] = now },
        },
        Resolved r => state with { OpenAlerts = [.. state.OpenAlerts.Where(o => o.AlertId != r.AlertId)] },
        AlertMoved m when m.FromCustomerId == state.CustomerId => state with { OpenAlerts = [.. state.OpenAlerts.Where(o => o.AlertId != m.AlertId)] },
        AlertMergedInto m => state with { OpenAlerts = [.. state.OpenAlerts.Where(o => o.AlertId != m.AlertId)] },
        _ => state,
    };

    private static CustomerAlertState WithAlert(CustomerAlertState state, Guid alertId, Func<OpenAlert, OpenAlert> change) =>
        state.OpenAlerts.Any(o => o.AlertId == alertId)
            ? state with { OpenAlerts = [.. state.OpenAlerts.Select(o => o.AlertId == alertId ? change(o) : o)] }
            : state;
}
