using Contacts.Effort.Scoring;

namespace Contacts.UnitTests;

public sealed class JourneyScorerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly EffortWeights Weights = new();

    private static ScoredContact Contact(string channel, double hours) => new(Guid.NewGuid(), channel, T0.AddHours(hours));

    [Fact]
    public void A_single_contact_costs_no_effort()
    {
        var score = JourneyScorer.Score([Contact("voice", 0)], Weights);
        Assert.Equal((0, 1, 1), (score.Score, score.ContactsInWindow, score.ChannelsInWindow));
        Assert.Empty(score.Drivers);
    }

    [Fact]
    public void Three_contacts_on_three_channels_score_repeats_and_switches_with_evidence()
    {
        var score = JourneyScorer.Score([Contact("voice", 0), Contact("web_form", 2), Contact("email", 26)], Weights);

        Assert.Equal(70, score.Score);
        Assert.Equal((3, 3), (score.ContactsInWindow, score.ChannelsInWindow));
        var repeats = Assert.Single(score.Drivers, d => d.Name == "repeat_contacts");
        Assert.Equal((40, "3 contacts within 7 days"), (repeats.Points, repeats.Evidence));
        var switches = Assert.Single(score.Drivers, d => d.Name == "channel_switches");
        Assert.Equal((30, "2 channel switches: voice -> web_form -> email"), (switches.Points, switches.Evidence));
    }

    [Fact]
    public void Contacts_older_than_the_window_do_not_count()
    {
        var score = JourneyScorer.Score([Contact("voice", 0), Contact("voice", 24 * 8), Contact("voice", 24 * 8 + 1)], Weights);
        Assert.Equal((2, 20), (score.ContactsInWindow, score.Score));
    }

    [Fact]
    public void The_score_does_not_depend_on_arrival_order_and_is_capped_at_100()
    {
        var contacts = Enumerable.Range(0, 12).Select(i => Contact(i % 2 == 0 ? "voice" : "chat", i)).ToList();
        var forward = JourneyScorer.Score(contacts, Weights);
        var backward = JourneyScorer.Score(contacts.AsEnumerable().Reverse().ToList(), Weights);
        Assert.Equal(forward.Score, backward.Score);
        Assert.Equal(100, forward.Score);
    }
}
