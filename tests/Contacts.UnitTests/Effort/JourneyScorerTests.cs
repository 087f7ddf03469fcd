using Contacts.Contracts;
using Contacts.Effort.Calibration;
using Contacts.Effort.Journeys;

namespace Contacts.UnitTests;

/// <summary>Given these contact events, this journey, this score and these drivers (with their evidence).</summary>
public sealed class JourneyScorerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly EffortSettings Settings = new();

    private static ContactEvent Event(string contactId, string channel, double hours, string kind = "message", string source = "pbx",
        string? topic = "billing", string direction = "inbound", ContactMeasures? measures = null, int? ces = null,
        string? initial = null, string? previous = null) =>
        new(Guid.NewGuid(), source, contactId, channel, direction, kind, T0.AddHours(hours), topic, initial, previous, Measures: measures, CesScore: ces);

    private static ContactMeasures Measures(double? queue = null, double? hold = null, int? transfers = null, bool? abandoned = null,
        bool? resolved = null) => new(queue, hold, null, transfers, abandoned, resolved);

    private static CustomerEvaluation Evaluate(params ContactEvent[] events) =>
        CustomerEffort.Evaluate(events, Settings, CustomerEffort.LatestOf(events));

    private static EffortDriver Driver(CustomerEvaluation evaluation, string name) => Assert.Single(evaluation.Worst!.Score.Drivers, d => d.Name == name);

    [Fact]
    public void A_single_contact_costs_no_effort()
    {
        var evaluation = Evaluate(Event("c1", "voice", 0));
        Assert.Equal(0, evaluation.Score);
        Assert.Empty(evaluation.Worst!.Score.Drivers);
    }

    [Fact]
    public void A_call_reported_started_then_ended_is_one_contact_not_a_repeat()
    {
        var evaluation = Evaluate(Event("call-1", "voice", 0, "started"), Event("call-1", "voice", 0.2, "ended"));
        var journey = Assert.Single(evaluation.Journeys).Journey;
        var contact = Assert.Single(journey.Contacts);
        Assert.Equal("pbx:call-1", contact.Key);
        Assert.Equal(T0.AddHours(0.2), contact.EndedAt);
        Assert.Equal(0, evaluation.Score);
    }

    [Fact]
    public void Every_event_of_a_contact_folds_into_one_contact_whatever_the_order()
    {
        ContactEvent[] events =
        [
            Event("c", "voice", 0, "started"), Event("c", "voice", 0.1, "message"),
            Event("c", "voice", 0.3, "ended", measures: Measures(hold: 200, resolved: true)), Event("c", "voice", 1, "survey_answered", ces: 2),
        ];
        var forward = Evaluate(events);
        var backward = Evaluate([.. events.Reverse()]);
        var contact = Assert.Single(Assert.Single(forward.Journeys).Journey.Contacts);
        Assert.Equal((200d, true, 2), (contact.HoldSeconds, contact.Resolved, contact.CesScore));
        Assert.Equal(forward.Score, backward.Score);
        Assert.Equal(forward.Worst!.Score.Drivers.Select(d => (d.Name, d.Points)), backward.Worst!.Score.Drivers.Select(d => (d.Name, d.Points)));
    }

    [Fact]
    public void A_transfer_chain_is_one_contact_with_its_transfers_counted_even_when_the_middle_arrives_last()
    {
        var evaluation = Evaluate(
            Event("a", "voice", 0, "started"),
            Event("c", "voice", 0.3, "ended", initial: "a", previous: "b"),
            Event("b", "voice", 0.1, "transferred", previous: "a"));
        var contact = Assert.Single(Assert.Single(evaluation.Journeys).Journey.Contacts);
        Assert.Equal("pbx:a", contact.Key);
        Assert.Equal(["a", "b", "c"], contact.Legs);
        Assert.Equal(2, contact.Transfers);
        var transfer = Driver(evaluation, Drivers.Transfer);
        Assert.Equal((20, 2d, "pbx:a"), (transfer.Points, transfer.Value, string.Join(",", transfer.ContactIds!)));
        Assert.DoesNotContain(evaluation.Worst!.Score.Drivers, d => d.Name == Drivers.RepeatContact);
    }

    [Fact]
    public void Three_contacts_on_three_channels_score_repeats_and_switches_with_evidence()
    {
        var evaluation = Evaluate(Event("call", "voice", 0), Event("form", "web_form", 2, source: "web"), Event("mail", "email", 26, source: "zendesk"));

        Assert.Equal(70, evaluation.Score);
        var repeats = Driver(evaluation, Drivers.RepeatContact);
        Assert.Equal((40, 2d), (repeats.Points, repeats.Value));
        Assert.Equal(["web:form", "zendesk:mail"], repeats.ContactIds);
        var switches = Driver(evaluation, Drivers.ChannelSwitch);
        Assert.Equal((30, "2 channel switches: voice -> web_form -> email"), (switches.Points, switches.Evidence));
    }

    [Fact]
    public void Hold_and_queue_wait_count_only_over_their_thresholds_and_carry_the_measured_seconds()
    {
        var evaluation = Evaluate(
            Event("a", "voice", 0, "ended", measures: Measures(queue: 30, hold: 121)),
            Event("b", "voice", 1, "ended", measures: Measures(queue: 300, hold: 60)));
        var hold = Driver(evaluation, Drivers.LongHold);
        Assert.Equal((10, 121d, "pbx:a"), (hold.Points, hold.Value, string.Join(",", hold.ContactIds!)));
        var queue = Driver(evaluation, Drivers.LongQueueWait);
        Assert.Equal((10, 300d, "pbx:b"), (queue.Points, queue.Value, string.Join(",", queue.ContactIds!)));
        Assert.Equal(20 + 10 + 10, evaluation.Score);
    }

    [Fact]
    public void Abandoned_calls_and_voicemail_or_a_callback_instead_of_a_live_answer_are_drivers()
    {
        var evaluation = Evaluate(
            Event("a", "voice", 0, "ended", measures: Measures(abandoned: true)),
            Event("vm", "voicemail", 0.5),
            Event("cb", "voice", 3, direction: "outbound"));
        Assert.Equal(15, Driver(evaluation, Drivers.Abandoned).Points);
        var notLive = Driver(evaluation, Drivers.NoLiveAnswer);
        Assert.Equal((20, "pbx:vm,pbx:cb"), (notLive.Points, string.Join(",", notLive.ContactIds!)));
        // The outbound callback is not the customer repeating themselves: one repeat (the voicemail), one switch.
        Assert.Equal(20, Driver(evaluation, Drivers.RepeatContact).Points);
    }

    [Fact]
    public void A_low_CES_answer_is_observed_truth_beside_the_predicted_score()
    {
        var evaluation = Evaluate(Event("a", "voice", 0, "ended", measures: Measures(transfers: 1)), Event("a", "voice", 1, "survey_answered", ces: 1));
        var worst = evaluation.Worst!;
        Assert.Equal((10, 55, 1), (worst.Score.Predicted, worst.Score.Score, worst.Score.CesScore));
        var ces = Driver(evaluation, Drivers.LowCes);
        Assert.Equal((45, 1d), (ces.Points, ces.Value));

        var easy = Evaluate(Event("b", "voice", 0, "ended"), Event("b", "voice", 1, "survey_answered", ces: 6));
        Assert.Equal((0, 6), (easy.Score, easy.Worst!.Score.CesScore));
    }

    [Fact]
    public void Drivers_are_capped_at_three_times_their_weight_and_the_score_at_100()
    {
        var events = Enumerable.Range(0, 12).Select(i => Event($"c{i}", i % 2 == 0 ? "voice" : "chat", i)).ToArray();
        var evaluation = Evaluate(events);
        Assert.Equal(60, Driver(evaluation, Drivers.RepeatContact).Points);
        Assert.Equal(45, Driver(evaluation, Drivers.ChannelSwitch).Points);
        Assert.Equal(Evaluate([.. events.Reverse()]).Score, evaluation.Score);

        var worse = Evaluate([.. events, Event("x", "voice", 13, "ended", measures: Measures(transfers: 5, hold: 900, queue: 900, abandoned: true))]);
        Assert.Equal(100, worse.Score);
    }

    [Fact]
    public void Journeys_group_by_topic_and_contacts_without_a_topic_join_the_open_journey()
    {
        var evaluation = Evaluate(
            Event("a", "voice", 0, topic: "billing"),
            Event("b", "email", 1, topic: "delivery"),
            Event("c", "chat", 2, topic: null));
        Assert.Equal(2, evaluation.Journeys.Count);
        var billing = evaluation.Journeys.Single(j => j.Journey.Topic == "billing");
        var delivery = evaluation.Journeys.Single(j => j.Journey.Topic == "delivery");
        Assert.Equal(["pbx:a"], billing.Journey.Contacts.Select(c => c.Key));
        Assert.Equal(["pbx:b", "pbx:c"], delivery.Journey.Contacts.Select(c => c.Key));
        Assert.Equal(35, delivery.Score.Score);
        Assert.Equal(35, evaluation.Score);
    }

    [Fact]
    public void Given_one_topic_written_in_two_cases_when_grouped_then_it_is_one_journey_that_keeps_the_first_spelling()
    {
        var evaluation = Evaluate(Event("a", "voice", 0, topic: "Billing"), Event("b", "chat", 1, topic: "billing"), Event("c", "email", 2, topic: "BILLING"));
        var journey = Assert.Single(evaluation.Journeys).Journey;
        Assert.Equal("Billing", journey.Topic);
        Assert.Equal(["pbx:a", "pbx:b", "pbx:c"], journey.Contacts.Select(c => c.Key));
    }

    [Fact]
    public void A_journey_closes_after_the_window_of_quiet_resolved_or_not_and_the_next_contact_opens_another()
    {
        var evaluation = Evaluate(
            Event("a", "voice", 0, "ended", measures: Measures(resolved: true)),
            Event("b", "voice", 24 * 8));
        Assert.Equal(["resolved", "open"], evaluation.Journeys.Select(j => j.Status));
        Assert.Equal(0, evaluation.Score);

        var repeated = Evaluate(Event("a", "voice", 0, "ended", measures: Measures(resolved: true)), Event("b", "voice", 24 * 6));
        Assert.Single(repeated.Journeys);
        Assert.Equal(20, repeated.Score); // the resolution did not hold: a repeat within the window
    }

    [Fact]
    public void The_customer_score_is_the_worst_open_journey()
    {
        var evaluation = Evaluate(
            Event("a", "voice", 0, topic: "billing"), Event("b", "chat", 1, topic: "billing"),
            Event("c", "voice", 2, topic: "delivery"));
        Assert.Equal("billing", evaluation.Worst!.Journey.Topic);
        Assert.Equal(35, evaluation.Score);
    }

    [Fact]
    public void The_snapshot_keeps_the_open_window_not_the_whole_history()
    {
        var history = Enumerable.Range(0, 200).Select(i => Event($"old{i}", "voice", -24 * 10 * (i + 1), "ended", topic: $"t{i}")).ToList();
        var recent = new[] { Event("n1", "voice", 0), Event("n2", "chat", 1) };
        var evaluation = Evaluate([.. history, .. recent]);
        var kept = CustomerEffort.Retain(evaluation);
        Assert.Equal(2 + CustomerEffort.ClosedJourneysKept, kept.Count);
        Assert.Equal(evaluation.Score, Evaluate([.. kept]).Score);
    }

    [Fact]
    public void Given_a_repeat_on_another_channel_when_the_weights_are_heavier_or_lighter_then_the_score_moves_with_them()
    {
        var events = new[] { Event("a", "voice", 0), Event("b", "chat", 1) };
        var defaults = Evaluate(events);
        Assert.Equal(Settings.Weights.RepeatContact + Settings.Weights.ChannelSwitch, defaults.Score);

        var heavier = new EffortSettings { Weights = new EffortWeights { RepeatContact = Settings.Weights.RepeatContact + 10, ChannelSwitch = Settings.Weights.ChannelSwitch + 5 } };
        var heavy = CustomerEffort.Evaluate(events, heavier, CustomerEffort.LatestOf(events));
        Assert.Equal(defaults.Score + 15, heavy.Score);
        Assert.Equal(Settings.Weights.RepeatContact + 10, Driver(heavy, Drivers.RepeatContact).Points);
        Assert.Equal(Settings.Weights.ChannelSwitch + 5, Driver(heavy, Drivers.ChannelSwitch).Points);

        var repeatOnly = new EffortSettings { Weights = new EffortWeights { RepeatContact = 50, ChannelSwitch = 0 } };
        var lighter = CustomerEffort.Evaluate(events, repeatOnly, CustomerEffort.LatestOf(events));
        Assert.Equal(50, lighter.Score);
        Assert.DoesNotContain(lighter.Worst!.Score.Drivers, d => d.Name == Drivers.ChannelSwitch);

        var lightest = new EffortSettings { Weights = new EffortWeights { RepeatContact = 5, ChannelSwitch = 5 } };
        Assert.True(CustomerEffort.Evaluate(events, lightest, CustomerEffort.LatestOf(events)).Score < defaults.Score);
    }

    [Fact]
    public void Settings_out_of_range_are_refused_naming_each_field()
    {
        var settings = new EffortSettings { WindowDays = 0, Weights = new EffortWeights { Transfer = 101 }, Thresholds = new EffortThresholds { HoldSeconds = -1 } };
        Assert.Equal(["thresholds.holdSeconds", "weights.transfer", "windowDays"], settings.Validate().Keys.Order(StringComparer.Ordinal));
        Assert.Empty(new EffortSettings().Validate());
    }

    [Fact]
    public void A_population_whose_CES_follows_the_drivers_calibrates_clearly_negative()
    {
        var random = new Random(20261123);
        var pairs = new List<(int, int)>();
        for (var customer = 0; customer < 400; customer++)
        {
            var contacts = 1 + random.Next(4);
            var channels = new[] { "voice", "chat", "email", "web_form" };
            var events = new List<ContactEvent>();
            var effort = 0.0;
            for (var i = 0; i < contacts; i++)
            {
                var hold = random.Next(2) == 0 ? 0 : random.Next(400);
                var transfers = random.Next(3) == 0 ? random.Next(1, 3) : 0;
                effort += (i > 0 ? 1 : 0) + hold / 200.0 + transfers * 0.5;
                events.Add(Event($"p{customer}-{i}", channels[random.Next(channels.Length)], i * 5, "ended",
                    measures: Measures(hold: hold, transfers: transfers)));
            }
            // The customer's answer follows what they went through, with noise: more effort, lower CES.
            var ces = Math.Clamp((int)Math.Round(7 - effort * 1.2 + (random.NextDouble() - 0.5) * 2), 1, 7);
            events.Add(Event($"p{customer}-0", "voice", contacts * 5 + 1, "survey_answered", ces: ces));
            var worst = Evaluate([.. events]).Worst!;
            pairs.Add((worst.Score.Predicted, worst.Score.CesScore!.Value));
        }
        var report = CalibrationReports.Compute(pairs);
        Assert.Equal(400, report.Journeys);
        Assert.True(report.SpearmanCorrelation < -0.6, $"rank correlation {report.SpearmanCorrelation}");
        Assert.True(report.ByCesScore[0].MeanPredictedScore > report.ByCesScore[^1].MeanPredictedScore);
    }

    [Fact]
    public void Given_a_control_population_whose_CES_is_random_and_unrelated_to_the_drivers_then_it_calibrates_near_zero()
    {
        // The test above builds CES from the drivers it scores; this control draws CES at random, so a calibration that
        // found a correlation here would be finding it in the scorer or in Spearman, not in the customers' answers.
        var random = new Random(20261205);
        var channels = new[] { "voice", "chat", "email", "web_form" };
        var pairs = new List<(int, int)>();
        for (var customer = 0; customer < 400; customer++)
        {
            var contacts = 1 + random.Next(4);
            var events = new List<ContactEvent>();
            for (var i = 0; i < contacts; i++)
            {
                var hold = random.Next(2) == 0 ? 0 : random.Next(400);
                var transfers = random.Next(3) == 0 ? random.Next(1, 3) : 0;
                events.Add(Event($"p{customer}-{i}", channels[random.Next(channels.Length)], i * 5, "ended",
                    measures: Measures(hold: hold, transfers: transfers)));
            }
            events.Add(Event($"p{customer}-0", "voice", contacts * 5 + 1, "survey_answered", ces: 1 + random.Next(7)));
            var worst = Evaluate([.. events]).Worst!;
            pairs.Add((worst.Score.Predicted, worst.Score.CesScore!.Value));
        }
        var report = CalibrationReports.Compute(pairs);
        Assert.Equal(400, report.Journeys);
        Assert.True(pairs.Select(p => p.Item1).Distinct().Count() > 5, "the drivers vary across the control population");
        Assert.Equal(7, report.ByCesScore.Count);
        Assert.NotNull(report.SpearmanCorrelation);
        Assert.True(Math.Abs(report.SpearmanCorrelation!.Value) < 0.2, $"rank correlation {report.SpearmanCorrelation}");
    }

    [Fact]
    public void Spearman_handles_ties_and_perfect_orders()
    {
        Assert.Equal(-1, CalibrationReports.Spearman([1, 2, 3, 4], [8, 6, 4, 2]));
        Assert.Equal(1, CalibrationReports.Spearman([1, 1, 2, 3], [1, 1, 2, 3]));
        Assert.Null(CalibrationReports.Spearman([1, 1, 1], [1, 2, 3]));
    }
}
