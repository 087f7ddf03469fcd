using Contacts.Alerting.Alerts;
using Contacts.Alerting.Settings;
using Contacts.Contracts;

namespace Contacts.UnitTests;

/// <summary>
/// A batch of scores is decided in arrival order, each on the state the scores before it left: given the stored states,
/// when a batch arrives, then the same events as one score at a time, and each customer's row written once.
/// </summary>
public sealed class AlertBatchTests
{
    private static readonly AlertingSettings Rules = new() { Threshold = 60, EscalationLevels = [], CooldownMinutes = 60 };
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Customer = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid Other = Guid.Parse("00000000-0000-0000-0000-00000000000b");
    private static readonly Guid Journey = Guid.Parse("00000000-0000-0000-0000-0000000000c1");

    private static EffortScored Score(Guid customer, int score, long version, params Guid[] merged) =>
        new(Guid.NewGuid(), "t", customer, Guid.NewGuid(), score, 3, 3, [], Now.AddHours(-1), Now, version, Journey, MergedCustomerIds: merged);

    private static AlertBatchDecision When(IReadOnlyList<CustomerAlertState> stored, params EffortScored[] scores)
    {
        var ids = 0;
        return AlertBatch.Decide(stored, scores, Rules, () => new Guid(++ids, 0, 0, new byte[8]), Now);
    }

    /// <summary>The same scores one at a time, each on the state the previous one's stored events leave.</summary>
    private static IReadOnlyList<IReadOnlyList<AlertDecisionEvent>> OneAtATime(IReadOnlyList<CustomerAlertState> stored, params EffortScored[] scores)
    {
        var ids = 0;
        var states = stored.ToDictionary(s => s.CustomerId);
        var decided = new List<IReadOnlyList<AlertDecisionEvent>>();
        foreach (var score in scores)
        {
            var state = states.GetValueOrDefault(score.CustomerId) ?? CustomerAlertState.Unknown(score.CustomerId);
            var merged = (score.MergedCustomerIds ?? []).Where(id => id != score.CustomerId)
                .Select(id => states.GetValueOrDefault(id) ?? CustomerAlertState.Unknown(id)).Where(s => s.MergedInto is null).ToList();
            var events = AlertDecision.Decide(state, merged, score, Rules, () => new Guid(++ids, 0, 0, new byte[8]), Now);
            foreach (var e in events)
            {
                AlertBatch.Evolve(states, e, Now);
            }
            decided.Add(events);
        }
        return decided;
    }

    [Fact]
    public void Two_crossings_of_one_customer_in_a_batch_raise_one_alert_and_the_second_rescores_it()
    {
        var (first, second) = (Score(Customer, 70, 1), Score(Customer, 80, 2));
        var decision = When([CustomerAlertState.Unknown(Customer)], first, second);

        var raised = Assert.Single(decision.Events.SelectMany(e => e).OfType<AlertRaised>());
        Assert.Equal([new ScoreRecorded(Customer, 2, 80), new OpenAlertRescored(raised.AlertId, second)], decision.Events[1]);
        var row = Assert.Single(decision.Changed);
        Assert.Equal((2L, 80), (row.ScoreVersion!.Value, row.Score!.Value));
    }

    [Fact]
    public void A_resolve_in_the_batch_starts_the_cooldown_for_the_scores_after_it()
    {
        var decision = When([CustomerAlertState.Unknown(Customer)], Score(Customer, 70, 1), Score(Customer, 20, 2), Score(Customer, 90, 3));

        Assert.Single(decision.Events.SelectMany(e => e).OfType<AlertRaised>());
        Assert.Single(decision.Events[1].OfType<Resolved>(), r => r.Resolution == Resolutions.ScoreBelowThreshold);
        Assert.Equal([new ScoreRecorded(Customer, 3, 90)], decision.Events[2]);
    }

    [Fact]
    public void A_stale_score_behind_a_newer_one_in_the_same_batch_changes_nothing()
    {
        var decision = When([CustomerAlertState.Unknown(Customer)], Score(Customer, 20, 5), Score(Customer, 90, 4));

        Assert.Empty(decision.Events[1]);
        Assert.Equal(5, Assert.Single(decision.Changed).ScoreVersion);
    }

    [Fact]
    public void A_merge_named_in_the_batch_moves_the_alert_and_the_survivors_next_score_rescores_it()
    {
        var alert = Guid.NewGuid();
        var stored = new[] { CustomerAlertState.Unknown(Customer), new CustomerAlertState(Other, 1, 75, null, [new OpenAlert(alert, AlertRules.HighEffort, 75, Now, JourneyId: Journey)]) };
        var (merging, next) = (Score(Customer, 70, 1, Other), Score(Customer, 85, 2, Other));

        var decision = When(stored, merging, next);

        Assert.Contains(new AlertMoved(alert, Other, Customer), decision.Events[0]);
        Assert.DoesNotContain(decision.Events.SelectMany(e => e), e => e is AlertRaised);
        Assert.Equal([new ScoreRecorded(Customer, 2, 85), new OpenAlertRescored(alert, next)], decision.Events[1]);
        Assert.Equal(Customer, decision.Changed.Single(s => s.CustomerId == Other).MergedInto);
    }

    [Fact]
    public void A_score_of_a_customer_merged_away_earlier_in_the_batch_is_held_not_acted_on()
    {
        var late = Score(Other, 95, 2);
        var decision = When([CustomerAlertState.Unknown(Customer), CustomerAlertState.Unknown(Other)], Score(Customer, 30, 1, Other), late);

        Assert.Equal([new ScoreHeld(Other, late)], decision.Events[1]);
        Assert.Equal(late, decision.Changed.Single(s => s.CustomerId == Other).HeldScore);
    }

    [Fact]
    public void A_merged_customers_recent_resolution_holds_back_the_survivors_crossing_later_in_the_batch()
    {
        var stored = new[]
        {
            CustomerAlertState.Unknown(Customer),
            new CustomerAlertState(Other, 1, 20, null, [], LastResolved: new Dictionary<string, DateTimeOffset> { [AlertRules.HighEffort] = Now.AddMinutes(-5) }),
        };

        var decision = When(stored, Score(Customer, 30, 1, Other), Score(Customer, 90, 2, Other));

        Assert.DoesNotContain(decision.Events.SelectMany(e => e), e => e is AlertRaised);
    }

    [Fact]
    public void Every_batch_of_a_mixed_sequence_decides_as_the_scores_would_one_at_a_time()
    {
        var alert = Guid.NewGuid();
        var stored = new[] { CustomerAlertState.Unknown(Customer), new CustomerAlertState(Other, 3, 65, null, [new OpenAlert(alert, AlertRules.HighEffort, 65, Now)]) };
        EffortScored[] scores =
        [
            Score(Other, 40, 4), Score(Customer, 70, 1), Score(Customer, 50, 3), Score(Customer, 60, 2), Score(Customer, 90, 4, Other),
            Score(Other, 99, 5), Score(Customer, 10, 5, Other),
        ];

        Assert.Equal(OneAtATime(stored, scores), When(stored, scores).Events);
    }

    private static readonly Guid Third = Guid.Parse("00000000-0000-0000-0000-00000000000c");

    private static CustomersMerged Merge(Guid survivor, params Guid[] merged) => new(Guid.NewGuid(), "t", survivor, merged, Guid.NewGuid(), Now);

    [Fact]
    public void A_merge_whose_survivor_an_earlier_merge_of_the_batch_took_away_folds_into_the_last_survivor()
    {
        var (kept, moving) = (Guid.NewGuid(), Guid.NewGuid());
        var stored = new[]
        {
            new CustomerAlertState(Customer, 1, 80, null, [new OpenAlert(kept, AlertRules.HighEffort, 80, Now)]),
            CustomerAlertState.Unknown(Other),
            new CustomerAlertState(Third, 1, 90, null, [new OpenAlert(moving, AlertRules.HighEffort, 90, Now)]),
        };
        // Other is merged into Customer, then a merge names Other as the survivor of Third.
        var decision = AlertBatch.DecideMerges(stored, [Merge(Customer, Other), Merge(Other, Third)],
            new Dictionary<Guid, Guid> { [Customer] = Customer, [Other] = Other }, Now);

        Assert.Equal([new CustomerMergedInto(Other, Customer)], decision.Events[0]);
        Assert.Equal([new CustomerMergedInto(Third, Customer), new AlertMergedInto(moving, kept)], decision.Events[1]);
        Assert.Equal(Customer, decision.Changed.Single(s => s.CustomerId == Third).MergedInto);
    }

    [Fact]
    public void A_merge_seen_again_in_the_same_batch_changes_nothing_the_second_time()
    {
        var alert = Guid.NewGuid();
        var stored = new[] { CustomerAlertState.Unknown(Customer), new CustomerAlertState(Other, 1, 70, null, [new OpenAlert(alert, AlertRules.HighEffort, 70, Now)]) };

        var decision = AlertBatch.DecideMerges(stored, [Merge(Customer, Other), Merge(Customer, Other)], new Dictionary<Guid, Guid> { [Customer] = Customer }, Now);

        Assert.Equal([new CustomerMergedInto(Other, Customer), new AlertMoved(alert, Other, Customer)], decision.Events[0]);
        Assert.Empty(decision.Events[1]);
    }

    [Fact]
    public void A_score_after_a_split_is_not_decided_in_a_batch() =>
        Assert.Throws<ArgumentException>(() => When([CustomerAlertState.Unknown(Customer)],
            Score(Customer, 70, 1) with { Split = new CustomerSplit(Guid.NewGuid(), "t", Customer, Other, [], [Guid.NewGuid()], Now) }));
}
