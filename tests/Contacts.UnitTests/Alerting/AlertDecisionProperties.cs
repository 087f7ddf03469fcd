using Contacts.Alerting.Alerts;
using Contacts.Alerting.Settings;
using Contacts.Contracts;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Contacts.UnitTests;

/// <summary>Properties of the alert decider over generated score histories arriving in any order.</summary>
public sealed class AlertDecisionProperties
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Customer = Guid.Parse("00000000-0000-0000-0000-00000000000a");

    public sealed record Arrival(int Score, long Version, int MinutesLater);

    public sealed record Case(IReadOnlyList<Arrival> Arrivals, int CooldownMinutes)
    {
        public override string ToString() => $"cooldown {CooldownMinutes} min; " + string.Join(", ", Arrivals);
    }

    private static readonly Arbitrary<Case> Cases =
        (from count in Gen.Choose(1, 12)
         from scores in Gen.Choose(0, 100).ArrayOf(count)
         from order in Gen.Shuffle(Enumerable.Range(1, count).ToArray())
         from gaps in Gen.Choose(0, 120).ArrayOf(count)
         from cooldown in Gen.Elements(0, 30, 24 * 60)
         select new Case([.. order.Select((version, i) => new Arrival(scores[i], version, gaps[i]))], cooldown)).ToArbitrary();

    /// <summary>The shell's stored state after each event, as AlertChanges keeps it, for one customer.</summary>
    [Property(MaxTest = 500)]
    public Property Given_scores_arriving_in_any_order_then_the_decider_never_raises_a_second_active_alert_for_a_reason() =>
        Prop.ForAll(Cases, c =>
        {
            var rules = new AlertingSettings { Threshold = 60, CooldownMinutes = c.CooldownMinutes };
            var state = CustomerAlertState.Unknown(Customer);
            var now = T0;
            foreach (var arrival in c.Arrivals)
            {
                now = now.AddMinutes(arrival.MinutesLater);
                var score = new EffortScored(Guid.NewGuid(), "t", Customer, Guid.NewGuid(), arrival.Score, 3, 2, [], T0, now, arrival.Version);
                var events = AlertDecision.Decide(state, score, rules, Guid.NewGuid, now);
                var raised = events.OfType<AlertRaised>().ToList();
                if (raised.Any(r => state.Open(r.Reason) is not null) || raised.GroupBy(r => r.Reason).Any(g => g.Count() > 1))
                {
                    return false.Label($"raised {string.Join(", ", raised.Select(r => r.Reason))} with {state.OpenAlerts.Count} active");
                }
                state = events.Aggregate(state, (s, e) => AlertBatch.Evolve(s, e, now));
                if (state.OpenAlerts.GroupBy(a => a.Reason).Any(g => g.Count() > 1))
                {
                    return false.Label("two active alerts for one reason");
                }
            }
            // The newest version seen wins, whatever the order: an active alert exists exactly when that score crossed.
            var newest = c.Arrivals.MaxBy(a => a.Version)!;
            // (A crossing may find no alert active when one for it was resolved within the cooldown.)
            var (crossed, active) = (newest.Score >= 60, state.Open(AlertRules.HighEffort) is not null);
            return (state.ScoreVersion == newest.Version && (active == crossed || crossed && c.CooldownMinutes > 0))
                .Label($"ended on version {state.ScoreVersion} score {state.Score} with {state.OpenAlerts.Count} active");
        });
}
