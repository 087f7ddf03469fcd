using Contacts.Alerting.Alerts;
using Contacts.Alerting.Settings;
using Contacts.Contracts;

namespace Contacts.UnitTests;

/// <summary>Alerting decides on the customer's current state: given that state, when a score or a merge arrives, then these events.</summary>
public sealed class AlertDecisionTests
{
    // No escalation levels here: these tests are about order, merges and splits (AlertLifecycleTests cover the rest).
    private static readonly AlertingSettings Rules = new() { Threshold = 60, EscalationLevels = [] };
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Customer = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid Other = Guid.Parse("00000000-0000-0000-0000-00000000000b");
    private static readonly Guid NewAlert = Guid.Parse("00000000-0000-0000-0000-0000000000f1");

    private static EffortScored Score(Guid customer, int score, long version) =>
        new(Guid.NewGuid(), "t", customer, Guid.NewGuid(), score, 3, 3, [], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, version);

    private static CustomerAlertState State(Guid customer, long? version = null, int? score = null, Guid? mergedInto = null, params OpenAlert[] open) =>
        new(customer, version, score, mergedInto, open);

    private static OpenAlert Open(Guid id, string reason = AlertRules.HighEffort) => new(id, reason, 70, DateTimeOffset.UnixEpoch);

    private static IReadOnlyList<AlertDecisionEvent> When(CustomerAlertState state, EffortScored score) =>
        AlertDecision.Decide(state, score, Rules, () => NewAlert, Now);

    [Fact]
    public void A_first_score_over_the_threshold_raises_an_alert()
    {
        var score = Score(Customer, 70, 3);
        Assert.Equal([new ScoreRecorded(Customer, 3, 70), new AlertRaised(NewAlert, Customer, AlertRules.HighEffort, score)],
            When(CustomerAlertState.Unknown(Customer), score));
    }

    [Fact]
    public void A_score_under_the_threshold_is_recorded_and_raises_nothing() =>
        Assert.Equal([new ScoreRecorded(Customer, 2, 35)], When(CustomerAlertState.Unknown(Customer), Score(Customer, 35, 2)));

    [Fact]
    public void A_newer_score_over_the_threshold_updates_the_open_alert_instead_of_raising_another()
    {
        var existing = Guid.NewGuid();
        var score = Score(Customer, 85, 5);
        Assert.Equal([new ScoreRecorded(Customer, 5, 85), new OpenAlertRescored(existing, score)],
            When(State(Customer, 4, 70, null, Open(existing)), score));
    }

    [Fact]
    public void A_stale_score_arriving_after_the_crossing_changes_nothing() =>
        // Version 3 crossed and raised; the version-2 score (35) comes late: it must not count as the current state.
        Assert.Empty(When(State(Customer, 3, 70, null, Open(Guid.NewGuid())), Score(Customer, 35, 2)));

    [Fact]
    public void A_stale_high_score_arriving_after_a_newer_low_one_raises_no_stale_alert() =>
        Assert.Empty(When(State(Customer, 6, 20), Score(Customer, 90, 5)));

    [Fact]
    public void The_same_version_seen_again_changes_nothing() =>
        Assert.Empty(When(State(Customer, 3, 70, null, Open(Guid.NewGuid())), Score(Customer, 70, 3)));

    [Fact]
    public void A_crossing_that_arrives_after_a_stale_low_score_is_not_hidden()
    {
        // Scores arrive 1 (20), then 3 (70), then 2 (35): whatever the order, the crossing at version 3 raises one alert.
        var state = CustomerAlertState.Unknown(Customer);
        var raised = new List<AlertDecisionEvent>();
        foreach (var score in new[] { Score(Customer, 20, 1), Score(Customer, 70, 3), Score(Customer, 35, 2) })
        {
            var events = When(state, score);
            raised.AddRange(events.OfType<AlertRaised>());
            state = events.Aggregate(state, Fold);
        }
        Assert.Single(raised);
        Assert.Equal(3, state.ScoreVersion);
    }

    [Fact]
    public void Every_arrival_order_of_a_customers_scores_raises_exactly_one_alert_and_ends_on_the_newest_score()
    {
        var scores = new[] { Score(Customer, 0, 1), Score(Customer, 35, 2), Score(Customer, 70, 3), Score(Customer, 55, 4) };
        foreach (var order in Permutations(scores))
        {
            var state = CustomerAlertState.Unknown(Customer);
            var raised = 0;
            foreach (var score in order)
            {
                var events = When(state, score);
                raised += events.OfType<AlertRaised>().Count();
                state = events.Aggregate(state, Fold);
            }
            // The crossing at version 3 raises only if it arrives before version 4 (55, under the threshold) was seen.
            var crossingSeen = order.ToList().FindIndex(s => s.Version == 3) < order.ToList().FindIndex(s => s.Version == 4);
            Assert.Equal(crossingSeen ? 1 : 0, raised);
            Assert.Equal((4L, 55), (state.ScoreVersion!.Value, state.Score!.Value));
        }
    }

    [Fact]
    public void A_score_for_a_customer_already_merged_away_raises_nothing_and_is_only_held_for_a_split()
    {
        var score = Score(Other, 90, 9);
        Assert.Equal([new ScoreHeld(Other, score)], When(State(Other, null, null, Customer), score));
        Assert.Empty(When(State(Other, null, null, Customer) with { HeldScore = score }, Score(Other, 95, 8)));
    }

    [Fact]
    public void A_merged_customers_open_alert_moves_to_the_survivor_that_has_none()
    {
        var alert = Guid.NewGuid();
        Assert.Equal([new CustomerMergedInto(Other, Customer), new AlertMoved(alert, Other, Customer)],
            AlertDecision.Decide(State(Customer, 2, 35), [State(Other, 3, 70, null, Open(alert))]));
    }

    [Fact]
    public void When_both_have_an_open_alert_for_the_reason_the_merged_one_closes_into_the_survivors()
    {
        var (kept, closed) = (Guid.NewGuid(), Guid.NewGuid());
        Assert.Equal([new CustomerMergedInto(Other, Customer), new AlertMergedInto(closed, kept)],
            AlertDecision.Decide(State(Customer, 4, 70, null, Open(kept)), [State(Other, 3, 70, null, Open(closed))]));
    }

    [Fact]
    public void Two_merged_customers_with_alerts_leave_one_open_alert_on_the_survivor()
    {
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        var third = Guid.NewGuid();
        Assert.Equal(
            [new CustomerMergedInto(Other, Customer), new AlertMoved(first, Other, Customer),
             new CustomerMergedInto(third, Customer), new AlertMergedInto(second, first)],
            AlertDecision.Decide(State(Customer), [State(Other, 1, 70, null, Open(first)), State(third, 1, 80, null, Open(second))]));
    }

    [Fact]
    public void A_survivors_crossing_that_overtook_the_merge_takes_the_merged_parts_alert_instead_of_raising_a_second()
    {
        // Given the merged part alerted alone, and alerting has not heard of the merge yet (CustomersMerged is late),
        var alert = Guid.NewGuid();
        var part = State(Other, 3, 70, null, Open(alert));
        // when the survivor's score, computed by effort from both parts' contacts, crosses and names the merged part,
        var score = Score(Customer, 85, 6) with { MergedCustomerIds = [Other] };
        // then the merge is folded first and the part's alert carries on with the survivor's score: no second alert.
        Assert.Equal(
            [new CustomerMergedInto(Other, Customer), new AlertMoved(alert, Other, Customer), new ScoreRecorded(Customer, 6, 85),
             new OpenAlertRescored(alert, score)],
            AlertDecision.Decide(State(Customer, 2, 35), [part], score, Rules, () => NewAlert, Now));
    }

    [Fact]
    public void A_survivors_crossing_that_names_an_unalerted_part_raises_once_and_the_parts_late_crossing_is_only_held()
    {
        var score = Score(Customer, 85, 6) with { MergedCustomerIds = [Other] };
        var events = AlertDecision.Decide(State(Customer, 2, 35), [State(Other, 1, 20)], score, Rules, () => NewAlert, Now);
        Assert.Equal(
            [new CustomerMergedInto(Other, Customer), new ScoreRecorded(Customer, 6, 85), new AlertRaised(NewAlert, Customer, AlertRules.HighEffort, score)],
            events);
        // The part's own crossing, computed before effort folded it, arrives last: held, never a second alert.
        var late = Score(Other, 70, 3);
        Assert.Equal([new ScoreHeld(Other, late)], When(events.Aggregate(State(Other, 1, 20), Fold), late));
    }

    [Fact]
    public void A_stale_score_naming_merges_folds_nothing_and_leaves_them_to_the_merge_message() =>
        Assert.Empty(AlertDecision.Decide(State(Customer, 7, 85), [State(Other, 3, 70, null, Open(Guid.NewGuid()))],
            Score(Customer, 80, 6) with { MergedCustomerIds = [Other] }, Rules, () => NewAlert, Now));

    [Fact]
    public void A_merge_seen_before_any_score_marks_the_customer_so_its_late_scores_are_ignored()
    {
        var events = AlertDecision.Decide(State(Customer), [CustomerAlertState.Unknown(Other)]);
        Assert.Equal([new CustomerMergedInto(Other, Customer)], events);
        Assert.DoesNotContain(When(events.Aggregate(CustomerAlertState.Unknown(Other), Fold), Score(Other, 90, 1)), e => e is not ScoreHeld);
    }

    [Fact]
    public void A_repeated_merge_changes_nothing() =>
        Assert.Empty(AlertDecision.Decide(State(Customer, null, null, null, Open(Guid.NewGuid())), [State(Other, 3, 70, Customer)]));

    [Fact]
    public void A_survivor_that_was_itself_merged_is_refused_so_the_shell_follows_the_chain() =>
        Assert.Throws<InvalidOperationException>(() => AlertDecision.Decide(State(Customer, null, null, Other), [State(Guid.NewGuid())]));

    private static readonly Guid Restored = Guid.Parse("00000000-0000-0000-0000-00000000000c");

    private static CustomerSplit Split(Guid[] survivorContacts, Guid[] restoredContacts) =>
        new(Guid.NewGuid(), "t", Customer, Restored, survivorContacts, restoredContacts, DateTimeOffset.UnixEpoch);

    [Fact]
    public void After_a_split_the_open_alert_goes_with_the_customer_whose_contact_raised_it()
    {
        var (alert, raisedBy) = (Guid.NewGuid(), Guid.NewGuid());
        var survivor = State(Customer, 7, 75, null, new OpenAlert(alert, AlertRules.HighEffort, 75, DateTimeOffset.UnixEpoch, raisedBy));
        Assert.Equal([new CustomerRestored(Restored, Customer), new AlertMoved(alert, Customer, Restored)],
            AlertDecision.Decide(survivor, State(Restored, 2, 70, Customer), Split([Guid.NewGuid()], [raisedBy]), Rules, () => NewAlert, Now));
    }

    [Fact]
    public void After_a_split_an_alert_raised_by_the_survivors_own_contact_stays_with_it()
    {
        var survivor = State(Customer, 7, 75, null, new OpenAlert(Guid.NewGuid(), AlertRules.HighEffort, 75, DateTimeOffset.UnixEpoch, Guid.NewGuid()));
        Assert.Equal([new CustomerRestored(Restored, Customer)],
            AlertDecision.Decide(survivor, State(Restored, 2, 70, Customer), Split([], [Guid.NewGuid()]), Rules, () => NewAlert, Now));
    }

    [Fact]
    public void A_post_split_score_that_overtook_the_split_decides_the_restored_customer_when_the_split_arrives()
    {
        // Effort re-scored the restored customer (version 9, 80) and alerting saw that before the split: held, then used.
        var held = Score(Restored, 80, 9);
        var restored = State(Restored, 2, 30, Customer) with { HeldScore = held };
        Assert.Equal([new CustomerRestored(Restored, Customer), new ScoreRecorded(Restored, 9, 80), new AlertRaised(NewAlert, Restored, AlertRules.HighEffort, held)],
            AlertDecision.Decide(State(Customer, 8, 40), restored, Split([], []), Rules, () => NewAlert, Now));
    }

    [Fact]
    public void A_split_seen_again_changes_nothing() =>
        Assert.Empty(AlertDecision.Decide(State(Customer), State(Restored) with { SplitFrom = [Customer] }, Split([], []), Rules, () => NewAlert, Now));

    [Fact]
    public void A_survivors_post_split_score_that_overtook_the_split_applies_the_split_before_deciding()
    {
        // Given the survivor carries the alert a contact of the merged-in customer raised, and effort's re-score of the
        // survivor after the split (35: only its own calm contacts, same journey id) reaches alerting before identity's split.
        var (alert, raisedBy, journey) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var survivor = State(Customer, 7, 75, null, new OpenAlert(alert, AlertRules.HighEffort, 75, DateTimeOffset.UnixEpoch, raisedBy, JourneyId: journey));
        var restored = State(Restored, 2, 70, Customer);
        var split = Split([Guid.NewGuid()], [raisedBy]);
        var score = Score(Customer, 35, 8) with { JourneyId = journey, Split = split };
        // Without the split it names, the lower score would resolve the alert on the wrong customer.
        Assert.Contains(new Resolved(alert, Customer, AlertRules.HighEffort, Resolutions.ScoreBelowThreshold), When(survivor, score with { Split = null }));
        // When it is decided with the split's other side, then the split comes first and the alert goes back, unresolved.
        var events = AlertDecision.Decide(survivor, [], score, Rules, () => NewAlert, Now, restored);
        Assert.Equal([new CustomerRestored(Restored, Customer), new AlertMoved(alert, Customer, Restored), new ScoreRecorded(Customer, 8, 35)], events);
        // And identity's split, arriving afterwards, finds it done.
        Assert.Empty(AlertDecision.Decide(events.Aggregate(survivor, Fold), events.Aggregate(restored, Fold), split, Rules, () => NewAlert, Now));
    }

    [Fact]
    public void A_post_split_score_seen_after_the_split_decides_as_any_score() =>
        Assert.Equal([new ScoreRecorded(Customer, 8, 35)],
            AlertDecision.Decide(State(Customer, 7, 40), [], Score(Customer, 35, 8) with { Split = Split([], []) }, Rules, () => NewAlert, Now,
                State(Restored, 2, 70) with { SplitFrom = [Customer] }));

    [Fact]
    public void A_merge_arriving_after_the_split_that_undid_it_leaves_the_two_apart()
    {
        var restored = State(Restored, 2, 70, null, Open(Guid.NewGuid())) with { SplitFrom = [Customer] };
        Assert.Empty(AlertDecision.Decide(State(Customer), [restored], Customer));
        // Also when the survivor it names has since merged on into another customer.
        Assert.Empty(AlertDecision.Decide(State(Other), [restored], Customer));
    }

    [Fact]
    public void An_erased_customer_is_neither_alerted_nor_merged()
    {
        var erased = State(Other, null, null, null) with { Erased = true };
        Assert.Empty(When(erased, Score(Other, 99, 50)));
        Assert.Empty(AlertDecision.Decide(State(Customer), [erased]));
        Assert.Empty(AlertDecision.Decide(State(Customer), erased, Split([], []) with { RestoredCustomerId = Other }, Rules, () => NewAlert, Now));
    }

    /// <summary>How the shell's stored state changes with each event, for one customer (enough to chain decisions in tests).</summary>
    private static CustomerAlertState Fold(CustomerAlertState state, AlertDecisionEvent e) => AlertBatch.Evolve(state, e, Now);

    private static IEnumerable<IReadOnlyList<T>> Permutations<T>(IReadOnlyList<T> items) =>
        items.Count <= 1
            ? [items]
            : items.SelectMany((item, i) => Permutations([.. items.Where((_, j) => j != i)]).Select(rest => (IReadOnlyList<T>)[item, .. rest]));
}
