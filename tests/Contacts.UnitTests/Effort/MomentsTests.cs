using Contacts.Contracts;
using Contacts.Effort.Journeys;

namespace Contacts.UnitTests;

/// <summary>Moments of truth and the loyalty account, given/when/then: the classifier and the ledger as pure functions.</summary>
public sealed class MomentsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Window = TimeSpan.FromDays(7);
    private static readonly MomentThresholds Defaults = new();

    private static ContactEvent Event(string contactId, string channel, double hours, string kind = "message", string direction = "inbound",
        ContactMeasures? measures = null, int? ces = null, string? outcome = null, ContactPromise? promise = null, string? topic = null) =>
        new(Guid.NewGuid(), "pbx", contactId, channel, direction, kind, T0.AddHours(hours), topic, Measures: measures, CesScore: ces,
            Outcome: outcome, Promise: promise);

    private static ContactMeasures Measures(double? QueueWaitSeconds = null, int? Transfers = null, bool? Abandoned = null, bool? Resolved = null) =>
        new(QueueWaitSeconds, null, null, Transfers, Abandoned, Resolved);

    private static IReadOnlyList<Moment> Classify(double asOfHours, params ContactEvent[] events) =>
        MomentJudge.Classify(ContactFolder.Fold(events), Window, Defaults, T0.AddHours(asOfHours));

    private static Moment Of(IReadOnlyList<Moment> moments, string contactId) => moments.Single(m => m.ContactKey == $"pbx:{contactId}");

    [Fact]
    public void Given_a_callback_promised_when_it_falls_due_with_no_outbound_contact_then_the_promising_contact_turns_misery_at_the_due_time()
    {
        var call = Event("call-1", "voice", 0, "ended", promise: new ContactPromise("callback", T0.AddHours(2)));

        Assert.Equal(MomentKinds.Mediocre, Of(Classify(1, call), "call-1").Kind);
        var broken = Of(Classify(2.5, call), "call-1");
        Assert.Equal((MomentKinds.Misery, T0.AddHours(2)), (broken.Kind, broken.At));
        Assert.Equal([MomentReasons.PromiseBroken], broken.Reasons);
    }

    [Fact]
    public void Given_a_callback_promised_when_an_outbound_call_comes_by_the_due_time_then_no_misery_and_a_late_one_still_broke_it()
    {
        var call = Event("call-1", "voice", 0, "ended", promise: new ContactPromise("callback", T0.AddHours(2)));
        Assert.Equal(MomentKinds.Mediocre, Of(Classify(5, call, Event("back-1", "voice", 1.5, direction: "outbound")), "call-1").Kind);
        Assert.Equal(MomentKinds.Misery, Of(Classify(5, call, Event("back-1", "voice", 3, direction: "outbound")), "call-1").Kind);
    }

    [Fact]
    public void Given_an_unresolved_inbound_contact_within_a_day_of_the_previous_one_then_it_is_misery_and_a_resolved_one_is_not()
    {
        var first = Event("call-1", "voice", 0);
        Assert.Equal([MomentReasons.UnresolvedRepeat], Of(Classify(30, first, Event("mail-1", "email", 20)), "mail-1").Reasons);
        Assert.Equal(MomentKinds.Mediocre, Of(Classify(30, first, Event("mail-1", "email", 25)), "mail-1").Kind); // past the day
        Assert.Equal(MomentKinds.Mediocre,
            Of(Classify(30, first, Event("mail-1", "email", 20, measures: Measures(Resolved: true))), "mail-1").Kind);
    }

    [Fact]
    public void Given_an_abandoned_long_wait_or_a_second_transfer_then_misery_with_every_reason()
    {
        var waited = Event("call-1", "voice", 0, "ended", measures: Measures(QueueWaitSeconds: 300, Abandoned: true));
        Assert.Equal([MomentReasons.AbandonedAfterLongWait], Of(Classify(1, waited), "call-1").Reasons);
        var quick = Event("call-1", "voice", 0, "ended", measures: Measures(QueueWaitSeconds: 30, Abandoned: true));
        Assert.Equal(MomentKinds.Mediocre, Of(Classify(1, quick), "call-1").Kind);
        var bounced = Event("call-1", "voice", 0, "ended", measures: Measures(Transfers: 2, QueueWaitSeconds: 300, Abandoned: true));
        Assert.Equal([MomentReasons.AbandonedAfterLongWait, MomentReasons.Transferred], Of(Classify(1, bounced), "call-1").Reasons);
    }

    [Fact]
    public void Given_a_resolution_at_first_contact_with_a_short_wait_then_magic_until_a_repeat_joins_its_journey()
    {
        var solved = Event("call-1", "voice", 0, "ended", measures: Measures(QueueWaitSeconds: 20, Resolved: true));
        Assert.Equal([MomentReasons.FirstContactResolution], Of(Classify(1, solved), "call-1").Reasons);
        // A repeat (the next day, same journey) shows it was not resolved after all: mediocre, in any order.
        var repeat = Event("mail-1", "email", 30);
        Assert.Equal(MomentKinds.Mediocre, Of(Classify(31, repeat, solved), "call-1").Kind);
        // A long wait first is no magic either.
        var slow = Event("call-1", "voice", 0, "ended", measures: Measures(QueueWaitSeconds: 200, Resolved: true));
        Assert.Equal(MomentKinds.Mediocre, Of(Classify(1, slow), "call-1").Kind);
    }

    [Fact]
    public void Given_a_ces_answer_of_6_or_7_arriving_after_its_contact_then_the_contact_turns_magic_when_it_arrives()
    {
        var call = Event("call-1", "voice", 0, "ended", measures: Measures(QueueWaitSeconds: 200));
        Assert.Equal(MomentKinds.Mediocre, Of(Classify(1, call), "call-1").Kind);
        var answered = Of(Classify(3, call, Event("call-1", "voice", 2, "survey_answered", ces: 7)), "call-1");
        Assert.Equal((MomentKinds.Magic, T0.AddHours(2)), (answered.Kind, answered.At));
        Assert.Equal(MomentKinds.Mediocre, Of(Classify(3, call, Event("call-1", "voice", 2, "survey_answered", ces: 5)), "call-1").Kind);
    }

    [Fact]
    public void Given_misery_and_magic_on_one_contact_then_misery_wins()
    {
        var both = Event("call-1", "voice", 0, "ended", measures: Measures(Transfers: 3), ces: 7);
        Assert.Equal(MomentKinds.Misery, Of(Classify(1, both), "call-1").Kind);
    }

    private static Moment Misery(string contact, double hours, params string[] reasons) => new(contact, MomentKinds.Misery, reasons, T0.AddHours(hours));
    private static Moment Magic(string contact, double hours, params string[] reasons) => new(contact, MomentKinds.Magic, reasons, T0.AddHours(hours));

    [Fact]
    public void Given_moments_when_the_ledger_is_kept_then_it_opens_at_50_withdraws_the_heaviest_reason_deposits_magic_and_stays_in_0_to_100()
    {
        var account = Ledger.Compute(
        [
            Misery("a", 1, MomentReasons.Transferred, MomentReasons.PromiseBroken),
            Magic("b", 2, MomentReasons.EasyCes),
            new Moment("c", MomentKinds.Mediocre, [], T0.AddHours(3)),
        ], []);
        Assert.Equal(
            [(-20, MomentReasons.PromiseBroken, 30, "a"), (5, MomentReasons.EasyCes, 35, "b")],
            account.Entries.Select(e => (e.Amount, e.Reason, e.Balance, e.ContactKey)));
        Assert.Equal(35, account.Balance);

        var floor = Ledger.Compute(Enumerable.Range(0, 5).Select(i => Misery($"m{i}", i, MomentReasons.PromiseBroken)), []);
        Assert.Equal(0, floor.Balance);
        var ceiling = Ledger.Compute(Enumerable.Range(0, 20).Select(i => Magic($"m{i}", i, MomentReasons.EasyCes)), []);
        Assert.Equal(100, ceiling.Balance);
    }

    [Fact]
    public void Given_two_customers_moments_when_merged_then_the_entries_interleave_in_time_order_whatever_order_they_are_given()
    {
        Moment[] mine = [Misery("a1", 1, MomentReasons.UnresolvedRepeat), Magic("a2", 5, MomentReasons.EasyCes)];
        Moment[] theirs = [Misery("b1", 3, MomentReasons.Transferred)];
        var merged = Ledger.Compute([.. theirs, .. mine], []);
        Assert.Equal(["a1", "b1", "a2"], merged.Entries.Select(e => e.ContactKey));
        Assert.Equal([35, 25, 30], merged.Entries.Select(e => e.Balance));
        Assert.Equal(merged, Ledger.Compute([.. mine, .. theirs], []) with { Entries = merged.Entries });
    }

    [Fact]
    public void Given_the_amounts_changed_when_the_ledger_is_kept_then_earlier_entries_keep_their_amounts_and_later_ones_say_which_apply()
    {
        var change = new MomentSettingsSince(T0.AddHours(2), new MomentSettings { Amounts = new LedgerAmounts { PromiseBroken = 40 } });
        var account = Ledger.Compute([Misery("a", 1, MomentReasons.PromiseBroken), Misery("b", 3, MomentReasons.PromiseBroken)], [change]);
        Assert.Equal([(-20, (DateTimeOffset?)null), (-40, T0.AddHours(2))], account.Entries.Select(e => (e.Amount, e.AmountsFrom)));
        Assert.Equal(0, account.Balance);
    }

    private static LedgerEntry Entry(string contact, double hours, int balance) =>
        new(T0.AddHours(hours), contact, MomentKinds.Misery, MomentReasons.PromiseBroken, [MomentReasons.PromiseBroken], -20, balance, null);

    [Fact]
    public void Given_misery_moments_when_the_watch_looks_then_each_not_yet_announced_and_within_the_window_is_announced_once()
    {
        Moment[] moments = [Misery("old", -200, MomentReasons.Transferred), Misery("told", 1, MomentReasons.Transferred), Misery("new", 2, MomentReasons.PromiseBroken),
            Magic("nice", 3, MomentReasons.EasyCes)];
        var decision = MomentAnnouncer.Decide(moments, new LedgerAccount(50, []), 30, new HashSet<string> { "told" }, false, [], T0.AddHours(3), Window);
        Assert.Equal(["new"], decision.Misery.Select(m => m.ContactKey)); // "old" was lived before the window: a backfill
        Assert.Null(decision.NextDue);
    }

    [Fact]
    public void Given_the_balance_when_it_falls_below_the_floor_then_the_crossing_is_announced_once_and_again_only_after_it_rose()
    {
        var low = new LedgerAccount(25, [Entry("a", 1, 30), Entry("b", 2, 25)]);
        var now = T0.AddHours(3);
        Assert.Equal("b", MomentAnnouncer.Decide([], low, 30, new HashSet<string>(), wasLow: false, [], now, Window).CrossedBelow?.ContactKey);
        Assert.Null(MomentAnnouncer.Decide([], low, 30, new HashSet<string>(), wasLow: true, [], now, Window).CrossedBelow);
        var back = MomentAnnouncer.Decide([], new LedgerAccount(35, [Entry("a", 1, 35)]), 30, new HashSet<string>(), wasLow: true, [], now, Window);
        Assert.False(back.Low);
        // A fall lived before the window (a backfill) is not announced, but counts as low from then on.
        var old = MomentAnnouncer.Decide([], new LedgerAccount(25, [Entry("a", -200, 25)]), 30, new HashSet<string>(), wasLow: false, [], now, Window);
        Assert.Equal((true, (LedgerEntry?)null), (old.Low, old.CrossedBelow));
    }

    [Fact]
    public void Given_a_promise_still_open_when_the_watch_looks_then_it_looks_again_when_the_promise_falls_due()
    {
        var call = Event("call-1", "voice", 0, "ended", promise: new ContactPromise("callback", T0.AddHours(2)));
        var promises = PromiseJudge.Judge(ContactFolder.Fold([call]), T0.AddHours(1));
        Assert.Equal(T0.AddHours(2), MomentAnnouncer.Decide([], new LedgerAccount(50, []), 30, new HashSet<string>(), false, promises, T0.AddHours(1), Window).NextDue);
        var due = PromiseJudge.Judge(ContactFolder.Fold([call]), T0.AddHours(3));
        Assert.Null(MomentAnnouncer.Decide([], new LedgerAccount(50, []), 30, new HashSet<string>(), false, due, T0.AddHours(3), Window).NextDue);
    }

    [Fact]
    public void Moment_settings_name_each_field_out_of_range()
    {
        var settings = new MomentSettings { Floor = 101, Thresholds = new MomentThresholds { MagicCes = 8 }, Amounts = new LedgerAmounts { EasyCes = -1 } };
        Assert.Equal(["amounts.easyCes", "floor", "thresholds.magicCes"], settings.Validate().Keys.Order(StringComparer.Ordinal));
        Assert.Empty(new MomentSettings().Validate());
    }
}
