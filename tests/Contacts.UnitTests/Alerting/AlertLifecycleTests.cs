using Contacts.Alerting.Alerts;
using Contacts.Alerting.Settings;
using Contacts.Contracts;
using Contacts.Effort.Journeys;

namespace Contacts.UnitTests;

/// <summary>An alert's life, given/when/then: escalation once per level, resolving by itself, cooldown, acknowledge and resolve, driver rules.</summary>
public sealed class AlertLifecycleTests
{
    private static readonly AlertingSettings Rules = new() { Threshold = 60, CooldownMinutes = 60, EscalationLevels = [80, 90] };
    private static readonly Guid Customer = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid Alert = Guid.Parse("00000000-0000-0000-0000-0000000000a1");
    private static readonly Guid NewAlert = Guid.Parse("00000000-0000-0000-0000-0000000000f1");
    private static readonly Guid Journey = Guid.Parse("00000000-0000-0000-0000-0000000000b1");
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static EffortScored Score(int score, long version, Guid? journey = null, params EffortDriver[] drivers) =>
        new(Guid.NewGuid(), "t", Customer, Guid.NewGuid(), score, 3, 3, drivers, Now.AddDays(-1), Now, version, journey ?? Journey);

    private static CustomerAlertState WithAlert(long version, int score, int level = 0, string status = AlertStatus.Open) =>
        new(Customer, version, score, null, [new OpenAlert(Alert, AlertRules.HighEffort, score, Now.AddHours(-1), Guid.NewGuid(), status, level, Journey)]);

    private static IReadOnlyList<AlertDecisionEvent> When(CustomerAlertState state, EffortScored score, AlertingSettings? rules = null) =>
        AlertDecision.Decide(state, score, rules ?? Rules, () => NewAlert, Now);

    [Fact]
    public void A_first_score_over_a_level_raises_the_alert_at_that_level_without_a_separate_escalation()
    {
        var score = Score(85, 1);
        Assert.Equal([new ScoreRecorded(Customer, 1, 85), new AlertRaised(NewAlert, Customer, AlertRules.HighEffort, score, 1)],
            When(CustomerAlertState.Unknown(Customer), score));
    }

    [Fact]
    public void A_rising_score_escalates_the_open_alert_once_per_level()
    {
        var to85 = Score(85, 2);
        Assert.Equal([new ScoreRecorded(Customer, 2, 85), new OpenAlertRescored(Alert, to85), new Escalated(Alert, Customer, AlertRules.HighEffort, 1)],
            When(WithAlert(1, 70), to85));
        var to95 = Score(95, 3);
        Assert.Equal([new ScoreRecorded(Customer, 3, 95), new OpenAlertRescored(Alert, to95), new Escalated(Alert, Customer, AlertRules.HighEffort, 2)],
            When(WithAlert(2, 85, level: 1), to95));
    }

    [Fact]
    public void A_level_already_reached_does_not_escalate_again_after_the_score_dipped()
    {
        var back = Score(95, 5);
        Assert.Equal([new ScoreRecorded(Customer, 5, 95), new OpenAlertRescored(Alert, back)], When(WithAlert(4, 82, level: 2), back));
    }

    [Fact]
    public void A_score_under_the_threshold_resolves_the_alert_by_itself() =>
        Assert.Equal([new ScoreRecorded(Customer, 2, 40), new Resolved(Alert, Customer, AlertRules.HighEffort, Resolutions.ScoreBelowThreshold)],
            When(WithAlert(1, 70), Score(40, 2)));

    [Fact]
    public void When_the_journey_that_raised_the_alert_is_no_longer_open_the_alert_resolves_as_journey_closed()
    {
        // Effort scores the customer's worst open journey: a low score of another journey (or of none) means the alerted one closed.
        Assert.Equal([new ScoreRecorded(Customer, 2, 10), new Resolved(Alert, Customer, AlertRules.HighEffort, Resolutions.JourneyClosed)],
            When(WithAlert(1, 70), Score(10, 2, Guid.NewGuid())));
    }

    [Fact]
    public void A_score_of_a_journey_opened_after_the_alerts_last_contact_resolves_it_as_journey_closed()
    {
        var alerted = new OpenAlert(Alert, AlertRules.HighEffort, 70, Now.AddDays(-3), Guid.NewGuid(), JourneyId: Journey, JourneyLastAt: Now.AddDays(-2));
        var later = Score(10, 2, Guid.NewGuid()) with { WindowStart = Now.AddDays(-1) };
        Assert.Equal([new ScoreRecorded(Customer, 2, 10), new Resolved(Alert, Customer, AlertRules.HighEffort, Resolutions.JourneyClosed)],
            When(new CustomerAlertState(Customer, 1, 70, null, [alerted]), later));
    }

    [Fact]
    public void A_survivors_late_score_from_before_the_merge_leaves_the_alert_moved_in_open_and_the_merged_score_rescores_it()
    {
        // Given: the alert of a customer merged into the survivor moved over (its journey's last contact two days ago); the
        // survivor's own score, computed before the merge from a journey alongside that one, arrives only now.
        var moved = new OpenAlert(Alert, AlertRules.HighEffort, 70, Now.AddDays(-3), Guid.NewGuid(), JourneyId: Journey, JourneyLastAt: Now.AddDays(-2));
        var survivor = new CustomerAlertState(Customer, 1, 0, null, [moved]);
        var beforeMerge = Score(0, 2, Guid.NewGuid()) with { WindowStart = Now.AddDays(-2).AddHours(-1), WindowEnd = Now.AddDays(-2).AddHours(-1) };
        // Then: the score is recorded and the alert is neither resolved (and so no cooldown starts) nor rescored.
        Assert.Equal([new ScoreRecorded(Customer, 2, 0)], When(survivor, beforeMerge));
        // And the survivor's merged score crossing the threshold carries the same alert on: no second one.
        var merged = Score(100, 3, Guid.NewGuid()) with { WindowStart = Now.AddDays(-3) };
        Assert.Equal([new ScoreRecorded(Customer, 3, 100), new OpenAlertRescored(Alert, merged), new Escalated(Alert, Customer, AlertRules.HighEffort, 2)],
            When(survivor with { ScoreVersion = 2, Score = 0 }, merged));
    }

    private static MomentOfMisery Misery(params string[] reasons) =>
        new(Guid.NewGuid(), "t", Customer, "pbx:call-1", Guid.NewGuid(), reasons, Now.AddMinutes(-1), 30, Now);

    [Fact]
    public void Given_a_broken_promise_when_no_alert_for_it_is_active_then_an_alert_promise_broken_is_raised_with_the_contact_as_evidence()
    {
        var raised = Assert.IsType<AlertRaised>(Assert.Single(AlertDecision.Decide(WithAlert(3, 70), Misery(MomentReasons.PromiseBroken), Rules, () => NewAlert, Now)));
        Assert.Equal((NewAlert, AlertRules.PromiseBroken, 70), (raised.AlertId, raised.Reason, raised.Score.Score));
        Assert.Equal(["pbx:call-1"], Assert.Single(raised.Score.Drivers).ContactIds!);
        // Other misery raises none; nor does a second broken promise while the first alert is active, or one within the cooldown.
        Assert.Empty(AlertDecision.Decide(WithAlert(3, 70), Misery(MomentReasons.Transferred), Rules, () => NewAlert, Now));
        var active = new CustomerAlertState(Customer, 3, 70, null, [new OpenAlert(Alert, AlertRules.PromiseBroken, 70, Now.AddHours(-1))]);
        Assert.Empty(AlertDecision.Decide(active, Misery(MomentReasons.PromiseBroken), Rules, () => NewAlert, Now));
        var cooling = CustomerAlertState.Unknown(Customer) with { LastResolved = new Dictionary<string, DateTimeOffset> { [AlertRules.PromiseBroken] = Now.AddMinutes(-5) } };
        Assert.Empty(AlertDecision.Decide(cooling, Misery(MomentReasons.PromiseBroken), Rules, () => NewAlert, Now));
        Assert.Empty(AlertDecision.Decide(CustomerAlertState.Unknown(Customer) with { MergedInto = Alert }, Misery(MomentReasons.PromiseBroken), Rules, () => NewAlert, Now));
    }

    [Fact]
    public void Given_an_alert_promise_broken_when_scores_arrive_then_they_neither_rescore_nor_resolve_it()
    {
        var state = new CustomerAlertState(Customer, 1, 70, null, [new OpenAlert(Alert, AlertRules.PromiseBroken, 70, Now.AddHours(-1), JourneyId: Journey)]);
        Assert.Equal([new ScoreRecorded(Customer, 2, 10)], When(state, Score(10, 2, Guid.NewGuid())));
        var high = Score(75, 3);
        Assert.Equal([new ScoreRecorded(Customer, 3, 75), new AlertRaised(NewAlert, Customer, AlertRules.HighEffort, high)], When(state with { ScoreVersion = 2 }, high));
    }

    [Fact]
    public void An_active_alert_whose_journey_went_quiet_for_the_window_resolves_as_journey_closed()
    {
        var window = TimeSpan.FromDays(7);
        foreach (var status in new[] { AlertStatus.Open, AlertStatus.Acknowledged })
        {
            Assert.Equal([new Resolved(Alert, Customer, AlertRules.HighEffort, Resolutions.JourneyClosed)],
                AlertDecision.Expire(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, status), Now.AddDays(-8), Now, window));
        }
        Assert.Empty(AlertDecision.Expire(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Open), Now.AddDays(-6), Now, window));
        Assert.Empty(AlertDecision.Expire(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Resolved), Now.AddDays(-8), Now, window));
        Assert.Empty(AlertDecision.Expire(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Open), null, Now, window));
    }

    [Fact]
    public void An_acknowledged_alert_still_escalates_and_resolves_by_itself()
    {
        var to90 = Score(90, 2);
        Assert.Contains(new Escalated(Alert, Customer, AlertRules.HighEffort, 2), When(WithAlert(1, 70, status: AlertStatus.Acknowledged), to90));
        Assert.Contains(new Resolved(Alert, Customer, AlertRules.HighEffort, Resolutions.ScoreBelowThreshold),
            When(WithAlert(1, 70, status: AlertStatus.Acknowledged), Score(20, 2)));
    }

    [Fact]
    public void A_resolved_reason_does_not_raise_again_within_the_cooldown_and_does_after_it()
    {
        var cooling = CustomerAlertState.Unknown(Customer) with
        {
            LastResolved = new Dictionary<string, DateTimeOffset> { [AlertRules.HighEffort] = Now.AddMinutes(-30) },
        };
        Assert.Equal([new ScoreRecorded(Customer, 3, 75)], When(cooling, Score(75, 3)));
        var cooled = cooling with { LastResolved = new Dictionary<string, DateTimeOffset> { [AlertRules.HighEffort] = Now.AddMinutes(-61) } };
        Assert.Contains(When(cooled, Score(75, 3)), e => e is AlertRaised);
    }

    [Fact]
    public void An_alert_resolved_on_a_customer_merged_in_later_keeps_the_survivor_from_raising_within_the_cooldown()
    {
        var part = Guid.Parse("00000000-0000-0000-0000-00000000000b");
        // Given: the person's alert was resolved 30 minutes ago on a record identity has since merged into this customer.
        var resolvedPart = CustomerAlertState.Unknown(part) with
        {
            LastResolved = new Dictionary<string, DateTimeOffset> { [AlertRules.HighEffort] = Now.AddMinutes(-30) },
        };
        var survivor = CustomerAlertState.Unknown(Customer) with
        {
            LastResolved = new Dictionary<string, DateTimeOffset> { [AlertRules.HighEffort] = Now.AddDays(-3) },
        };

        // When the survivor's score crosses, before alerting has seen the merge (the score names it) and after (folded state).
        var beforeMerge = AlertDecision.Decide(survivor, [resolvedPart], Score(75, 3) with { MergedCustomerIds = [part] }, Rules, () => NewAlert, Now);
        var folded = survivor with { LastResolved = survivor.LastResolvedWith([resolvedPart]) };

        // Then: no new alert either way; the latest resolution per reason counts.
        Assert.Equal([new CustomerMergedInto(part, Customer), new ScoreRecorded(Customer, 3, 75)], beforeMerge);
        Assert.Equal([new ScoreRecorded(Customer, 3, 75)], When(folded, Score(75, 3)));
        Assert.Equal(Now.AddMinutes(-30), folded.LastResolved![AlertRules.HighEffort]);
        Assert.Contains(AlertDecision.Decide(folded, Score(75, 3), Rules, () => NewAlert, Now.AddMinutes(31)), e => e is AlertRaised);
    }

    [Fact]
    public void Acknowledging_is_for_open_alerts_once_and_never_for_closed_ones()
    {
        Assert.Equal([new Acknowledged(Alert, Customer, AlertRules.HighEffort)],
            AlertDecision.Acknowledge(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Open)).Events);
        var again = AlertDecision.Acknowledge(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Acknowledged));
        Assert.Empty(again.Events);
        Assert.Null(again.Conflict);
        Assert.NotNull(AlertDecision.Acknowledge(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Resolved)).Conflict);
        Assert.NotNull(AlertDecision.Acknowledge(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Merged)).Conflict);
    }

    [Fact]
    public void Resolving_closes_an_active_alert_once_and_refuses_a_merged_one()
    {
        foreach (var status in new[] { AlertStatus.Open, AlertStatus.Acknowledged })
        {
            Assert.Equal([new Resolved(Alert, Customer, AlertRules.HighEffort, Resolutions.Manual)],
                AlertDecision.Resolve(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, status)).Events);
        }
        var again = AlertDecision.Resolve(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Resolved));
        Assert.Empty(again.Events);
        Assert.Null(again.Conflict);
        Assert.NotNull(AlertDecision.Resolve(new AlertSnapshot(Alert, Customer, AlertRules.HighEffort, AlertStatus.Merged)).Conflict);
    }

    private static readonly AlertingSettings AbandonAfterWait = Rules with
    {
        Threshold = 100,
        EscalationLevels = [],
        DriverRules = [new DriverRule("abandoned_after_long_wait", [new DriverCondition("abandoned"), new DriverCondition("long_queue_wait", MinValue: 600)], SameContact: true)],
    };

    [Fact]
    public void A_driver_rule_raises_its_own_reason_when_one_contact_was_abandoned_after_a_long_wait()
    {
        var score = Score(40, 1, null,
            new EffortDriver("abandoned", 20, "gave up once", ["voice:c1"], 1),
            new EffortDriver("long_queue_wait", 10, "waited", ["voice:c1", "voice:c2"], 720));
        Assert.Equal([new ScoreRecorded(Customer, 1, 40), new AlertRaised(NewAlert, Customer, "abandoned_after_long_wait", score, 0)],
            When(CustomerAlertState.Unknown(Customer), score, AbandonAfterWait));
    }

    [Theory]
    [InlineData(500, "voice:c1")] // waited, but not long enough
    [InlineData(720, "voice:c2")] // the long wait was another contact than the abandoned one
    public void A_driver_rule_whose_conditions_do_not_all_hold_on_one_contact_raises_nothing(double wait, string waitedContact)
    {
        var score = Score(40, 1, null,
            new EffortDriver("abandoned", 20, "gave up once", ["voice:c1"], 1),
            new EffortDriver("long_queue_wait", 10, "waited", [waitedContact], wait));
        Assert.Equal([new ScoreRecorded(Customer, 1, 40)], When(CustomerAlertState.Unknown(Customer), score, AbandonAfterWait));
    }

    [Fact]
    public void Settings_are_read_with_defaults_for_what_is_left_out()
    {
        var (settings, errors) = AlertingSettingsValidation.Parse("""{"threshold": 50, "driverRules": [{"reason": "gave_up", "drivers": [{"name": "abandoned"}]}]}""");
        Assert.Empty(errors);
        Assert.Equal(50, settings!.Threshold);
        Assert.Equal(24 * 60, settings.CooldownMinutes);
        Assert.Equal([80, 90], settings.EscalationLevels);
        Assert.Equal("gave_up", Assert.Single(settings.DriverRules).Reason);
    }

    [Fact]
    public void Bad_settings_name_every_field_at_fault()
    {
        var (settings, errors) = AlertingSettingsValidation.Parse("""
            {"threshold": 0, "cooldownMinutes": -1, "escalationLevels": [90, 80],
             "driverRules": [{"reason": "high_effort", "drivers": [{"name": "bored", "minValue": -2}]}, {"reason": "x", "drivers": []}]}
            """);
        Assert.Null(settings);
        Assert.Equal(["cooldownMinutes", "driverRules[0].drivers[0].name", "driverRules[0].reason", "driverRules[1].drivers", "escalationLevels", "threshold"],
            errors.Keys.Order());
    }

    [Theory]
    [InlineData("""{"threshold": "60"}""", "threshold")]
    [InlineData("""{"escalationLevels": 80}""", "escalationLevels")]
    [InlineData("[]", "body")]
    [InlineData("null", "body")]
    public void Settings_of_the_wrong_json_type_are_refused_naming_the_field(string body, string field)
    {
        var (settings, errors) = AlertingSettingsValidation.Parse(body);
        Assert.Null(settings);
        Assert.Equal(field, Assert.Single(errors.Keys));
    }

    [Fact]
    public void Escalation_levels_must_lie_above_the_threshold() =>
        Assert.Contains("escalationLevels", AlertingSettingsValidation.Parse("""{"threshold": 85, "escalationLevels": [80]}""").Errors.Keys);
}
