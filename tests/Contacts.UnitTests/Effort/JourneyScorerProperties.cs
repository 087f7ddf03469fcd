using Contacts.Contracts;
using Contacts.Effort.Journeys;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Contacts.UnitTests;

/// <summary>Properties of the effort scorer over generated journeys: one topic, contacts an hour apart, any weights.</summary>
public sealed class JourneyScorerProperties
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly string[] OldChannels = ["voice", "chat", "email"];
    private const string NewChannel = "web_form";

    public sealed record GeneratedContact(string Channel, bool Inbound, int Hold, int Queue, int Transfers, bool Abandoned, int? Ces);

    public sealed record Case(IReadOnlyList<GeneratedContact> Contacts, EffortWeights Weights)
    {
        public override string ToString() =>
            $"weights {Weights.RepeatContact}/{Weights.ChannelSwitch}/{Weights.Transfer}/{Weights.LongHold}/{Weights.LongQueueWait}/{Weights.Abandoned}/{Weights.NoLiveAnswer}/{Weights.LowCes}; " +
            string.Join(", ", Contacts);
    }

    private static readonly Gen<GeneratedContact> Contact =
        from channel in Gen.Elements(OldChannels)
        from inbound in Gen.Frequency((4, Gen.Constant(true)), (1, Gen.Constant(false)))
        from hold in Gen.Choose(0, 900)
        from queue in Gen.Choose(0, 900)
        from transfers in Gen.Choose(0, 3)
        from abandoned in Gen.Elements(true, false)
        from ces in Gen.Frequency((3, Gen.Constant<int?>(null)), (1, Gen.Choose(1, 7).Select(c => (int?)c)))
        select new GeneratedContact(channel, inbound, hold, queue, transfers, abandoned, ces);

    private static Gen<EffortWeights> Weights(int max) =>
        from w in Gen.Choose(0, max).ArrayOf(8)
        select new EffortWeights
        {
            RepeatContact = w[0], ChannelSwitch = w[1], Transfer = w[2], LongHold = w[3], LongQueueWait = w[4], Abandoned = w[5],
            NoLiveAnswer = w[6], LowCes = w[7],
        };

    private static Arbitrary<Case> Cases(int maxWeight) =>
        (from count in Gen.Choose(1, 6)
         from contacts in Contact.ArrayOf(count)
         from weights in Weights(maxWeight)
         select new Case(contacts, weights)).ToArbitrary();

    // Weights up to 100 push sums far past 100 (the cap is what is tested); up to 15, as the defaults, most scores stay under
    // it, so a change that lowers a score is not hidden by the cap.
    private static readonly Arbitrary<Case> AnyWeights = Cases(100);
    private static readonly Arbitrary<Case> UsualWeights = Cases(15);

    private static ContactEvent[] Events(IEnumerable<GeneratedContact> contacts) =>
    [
        .. contacts.SelectMany((c, i) =>
        {
            var at = T0.AddHours(i);
            var ended = new ContactEvent(Guid.NewGuid(), "pbx", $"c{i}", c.Channel, c.Inbound ? "inbound" : "outbound", "ended", at, "billing",
                Measures: new ContactMeasures(c.Queue, c.Hold, null, c.Transfers, c.Abandoned, null));
            return c.Ces is { } ces
                ? new[] { ended, new ContactEvent(Guid.NewGuid(), "pbx", $"c{i}", c.Channel, "inbound", "survey_answered", at.AddMinutes(30), "billing", CesScore: ces) }
                : [ended];
        }),
    ];

    private static CustomerEvaluation Evaluate(ContactEvent[] events, EffortWeights weights) =>
        CustomerEffort.Evaluate(events, new EffortSettings { Weights = weights }, CustomerEffort.LatestOf(events));

    [Property(MaxTest = 300)]
    public Property Given_any_journey_and_any_weights_then_every_score_is_within_0_to_100_and_the_prediction_never_exceeds_it() =>
        Prop.ForAll(AnyWeights, c => Evaluate(Events(c.Contacts), c.Weights).Journeys.All(j =>
            j.Score.Score is >= 0 and <= 100 && j.Score.Predicted >= 0 && j.Score.Predicted <= j.Score.Score));

    [Property(MaxTest = 300)]
    public Property Given_any_journey_when_the_customer_comes_back_on_a_channel_not_used_yet_then_the_score_does_not_go_down() =>
        Prop.ForAll(UsualWeights, c =>
        {
            var before = Evaluate(Events(c.Contacts), c.Weights).Score;
            var after = Evaluate(Events([.. c.Contacts, new GeneratedContact(NewChannel, true, 0, 0, 0, false, null)]), c.Weights).Score;
            return (after >= before).Label($"before {before}, after {after}");
        });

    [Property(MaxTest = 300)]
    public Property Given_any_journey_when_the_repeat_weight_rises_then_the_score_does_not_go_down() =>
        Prop.ForAll(UsualWeights, Gen.Choose(1, 50).ToArbitrary(), (c, more) =>
        {
            var heavier = new EffortWeights
            {
                RepeatContact = c.Weights.RepeatContact + more, ChannelSwitch = c.Weights.ChannelSwitch, Transfer = c.Weights.Transfer,
                LongHold = c.Weights.LongHold, LongQueueWait = c.Weights.LongQueueWait, Abandoned = c.Weights.Abandoned,
                NoLiveAnswer = c.Weights.NoLiveAnswer, LowCes = c.Weights.LowCes,
            };
            var events = Events(c.Contacts);
            return Evaluate(events, heavier).Score >= Evaluate(events, c.Weights).Score;
        });
}
